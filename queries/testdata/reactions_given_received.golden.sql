WITH day_reactions AS (
  SELECT
    r.user_id AS giver_id,
    p.user_id AS author_id,
    CASE WHEN r.kind = 'thanks' THEN 1 ELSE 0 END AS is_thanks
  FROM (SELECT * FROM "kpilake_prod"."social_reactions" WHERE "dt" = '2026-11-24') AS r
  LEFT JOIN (SELECT * FROM "kpilake_prod"."kpi_state_social_posts" WHERE "dt" = '2026-11-24') AS p ON p.id = r.post_id
  WHERE (r.deleted_at IS NULL OR r.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000')
    AND (p.deleted_at IS NULL OR p.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000')
    AND r.created_at >= TIMESTAMP '2026-11-23 15:00:00.000' AND r.created_at < TIMESTAMP '2026-11-24 15:00:00.000'
),
sides AS (
  SELECT giver_id AS user_id, 'given' AS side, is_thanks FROM day_reactions
  UNION ALL
  SELECT author_id, 'received', is_thanks FROM day_reactions WHERE author_id IS NOT NULL
)
SELECT
  s.user_id,
  COUNT(CASE WHEN s.side = 'given' THEN 1 END) AS reactions_given,
  COUNT(CASE WHEN s.side = 'received' THEN 1 END) AS reactions_received,
  COUNT(CASE WHEN s.side = 'given' AND s.is_thanks = 1 THEN 1 END) AS thanks_given,
  COUNT(CASE WHEN s.side = 'received' AND s.is_thanks = 1 THEN 1 END) AS thanks_received
FROM sides AS s
GROUP BY s.user_id
