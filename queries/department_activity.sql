-- name: department_activity
-- description: Posts, comments, reactions and thanks per department on the day. Each counts the
--   rows created on the day (created_at at or after D 00:00:00.000 and before D+1 00:00:00.000 in
--   the business time zone, by the database's clock, whatever the visibility of the post: public,
--   department and private alike) that were not soft-deleted by the end of the day (deleted_at NULL
--   or at or after D+1 00:00, so a row deleted the next day still counts for D). A comment or a
--   reaction counts only if its post was not soft-deleted by the end of the day either. thanks are
--   the reactions of kind thanks, also counted in reactions. The department is the acting user's
--   (author, commenter, giver) department_id in the users snapshot of the day, taken by the day's
--   extraction early on D+1 (01:30 by default), so a user who moves on D+1 after it counts in the
--   old department for D (a move between midnight and the extraction already shows in D's
--   snapshot) and a user who left (soft-deleted) still counts; acts of a user missing from that
--   snapshot count under a NULL department_id. Departments without activity are absent.
-- depends_on:
-- sources: social.users, social.posts, social.comments, social.reactions
--
-- Created on the day: created_at within [day_start, day_end), the business day's bounds as UTC
-- instants. Live: not soft-deleted by the end of the day (deleted_at IS NULL or deleted_at >=
-- day_end). The day's incremental partitions hold every row changed since the day began, as it
-- was when they were extracted (the next morning, or later in a re-run), so a row of the day is
-- always there, possibly in a later version: a deletion after the day, even one before the
-- extraction or a week later, does not change the day's figure. A comment or a reaction counts
-- only if its post was not deleted by the end of the day either. The department is the acting
-- user's department_id in the day's users snapshot (the author, the commenter, the giver); a
-- user missing from the snapshot counts under a NULL department rather than not at all.
-- Departments without activity are absent.
WITH day_users AS (
  SELECT u.id, u.department_id
  FROM {{ source "social" "users" }} AS u
),
deleted_posts AS (
  -- Posts deleted during the day (the partition holds every post changed since the day began).
  -- Nobody can comment on or react to a post deleted earlier, so these are the only posts that
  -- disqualify a comment or a reaction of the day.
  SELECT DISTINCT p.id
  FROM {{ source "social" "posts" }} AS p
  WHERE p.deleted_at < {{ day_end }}
),
new_posts AS (
  SELECT p.user_id
  FROM {{ source "social" "posts" }} AS p
  WHERE (p.deleted_at IS NULL OR p.deleted_at >= {{ day_end }})
    AND p.created_at >= {{ day_start }} AND p.created_at < {{ day_end }}
),
new_comments AS (
  SELECT c.user_id
  FROM {{ source "social" "comments" }} AS c
  LEFT JOIN deleted_posts AS dp ON dp.id = c.post_id
  WHERE (c.deleted_at IS NULL OR c.deleted_at >= {{ day_end }}) AND dp.id IS NULL
    AND c.created_at >= {{ day_start }} AND c.created_at < {{ day_end }}
),
new_reactions AS (
  SELECT r.user_id, r.kind
  FROM {{ source "social" "reactions" }} AS r
  LEFT JOIN deleted_posts AS dp ON dp.id = r.post_id
  WHERE (r.deleted_at IS NULL OR r.deleted_at >= {{ day_end }}) AND dp.id IS NULL
    AND r.created_at >= {{ day_start }} AND r.created_at < {{ day_end }}
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
