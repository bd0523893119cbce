WITH day_users AS (
  SELECT u.id, u.department_id
  FROM (SELECT * FROM "kpilake_prod"."social_users" WHERE "dt" = '2026-11-24') AS u
),
deleted_posts AS (
  -- Posts deleted during the day (the partition holds every post changed since the day began).
  -- Nobody can comment on or react to a post deleted earlier, so these are the only posts that
  -- disqualify a comment or a reaction of the day.
  SELECT DISTINCT p.id
  FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2026-11-24') AS p
  WHERE p.deleted_at < TIMESTAMP '2026-11-24 15:00:00.000'
),
new_posts AS (
  SELECT p.user_id
  FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2026-11-24') AS p
  WHERE (p.deleted_at IS NULL OR p.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000')
    AND p.created_at >= TIMESTAMP '2026-11-23 15:00:00.000' AND p.created_at < TIMESTAMP '2026-11-24 15:00:00.000'
),
new_comments AS (
  SELECT c.user_id
  FROM (SELECT * FROM "kpilake_prod"."social_comments" WHERE "dt" = '2026-11-24') AS c
  LEFT JOIN deleted_posts AS dp ON dp.id = c.post_id
  WHERE (c.deleted_at IS NULL OR c.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000') AND dp.id IS NULL
    AND c.created_at >= TIMESTAMP '2026-11-23 15:00:00.000' AND c.created_at < TIMESTAMP '2026-11-24 15:00:00.000'
),
new_reactions AS (
  SELECT r.user_id, r.kind
  FROM (SELECT * FROM "kpilake_prod"."social_reactions" WHERE "dt" = '2026-11-24') AS r
  LEFT JOIN deleted_posts AS dp ON dp.id = r.post_id
  WHERE (r.deleted_at IS NULL OR r.deleted_at >= TIMESTAMP '2026-11-24 15:00:00.000') AND dp.id IS NULL
    AND r.created_at >= TIMESTAMP '2026-11-23 15:00:00.000' AND r.created_at < TIMESTAMP '2026-11-24 15:00:00.000'
),
acts AS (
  SELECT user_id, 'post' AS act, CAST(NULL AS VARCHAR) AS kind FROM new_posts
  UNION ALL
  SELECT user_id, 'comment', NULL FROM new_comments
  UNION ALL
  SELECT user_id, 'reaction', kind FROM new_reactions
)
SELECT
  u.department_id,
  COUNT(CASE WHEN a.act = 'post' THEN 1 END) AS posts,
  COUNT(CASE WHEN a.act = 'comment' THEN 1 END) AS comments,
  COUNT(CASE WHEN a.act = 'reaction' THEN 1 END) AS reactions,
  COUNT(CASE WHEN a.act = 'reaction' AND a.kind = 'thanks' THEN 1 END) AS thanks
FROM acts AS a
LEFT JOIN day_users AS u ON u.id = a.user_id
GROUP BY u.department_id
