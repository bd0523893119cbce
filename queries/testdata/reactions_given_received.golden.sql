WITH recent_posts AS (
  -- One row per post changed in the window: its author, and whether it was deleted by the end
  -- of the day (a deletion is final, so any version deleted before day_end means deleted).
  SELECT
    p.id,
    MAX(p.user_id) AS author_id,
    COUNT(CASE WHEN p.deleted_at < TIMESTAMP '2026-11-24 15:00:00.000' THEN 1 END) AS deletions
  FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" BETWEEN '2026-08-27' AND '2026-11-24') AS p
  GROUP BY p.id
),
day_reactions AS (
  SELECT
    r.user_id AS giver_id,
    rp.author_id,
    CASE WHEN r.kind = 'thanks' THEN 1 ELSE 0 END AS is_thanks
  FROM (SELECT * FROM "kpilake_prod"."social_reactions" WHERE "dt" = '2026-11-24') AS r
  LEFT JOIN recent_posts AS rp ON rp.id = r.post_id
  WHERE (r.deleted_at IS NULL OR r.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000')
    AND COALESCE(rp.deletions, 0) = 0
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
