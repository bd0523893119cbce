-- name: reactions_given_received
-- description: Reactions given and received per user on the day, with the thanks among them: the
--   reactions created on the day (created_at at or after D 00:00:00.000 and before D+1 00:00:00.000
--   in the business time zone) that were not soft-deleted by the end of the day (deleted_at NULL or
--   at or after D+1 00:00), on a post not soft-deleted by the end of the day, whatever its
--   visibility and however long ago it was created or last changed. Each counts once as given for
--   its giver and once as received for the post's author (both, for a reaction on one's own post);
--   thanks_given and thanks_received count the reactions of kind thanks among them. The post's
--   author and deletion come from the state of the posts as of the end of the day (as the day's
--   extraction saw them); a reaction on a post that no extraction up to the day holds counts as
--   given only. Users are user_ids as the tables hold them, known to the users table or not. Users
--   with no reaction on either side are absent.
-- depends_on:
-- sources: social.posts, social.reactions
--
-- Given on the day: created_at within [day_start, day_end). Both sides count on the day the
-- reaction was given, whatever the day of the post; live means not soft-deleted by the end of
-- the day (deleted_at IS NULL or deleted_at >= day_end; reaction and post), so a deletion after
-- the day, even one before the day's extraction or in a re-run a week later, does not change
-- the day's figure. The post's author and deletion come from {{ state "social" "posts" }}: one
-- row per post, the latest version up to the day's partition, kept by the pipeline from the
-- previous day's state and the day's partition (README, Aggregation), so a post unchanged for a
-- year is found as well as one of the day. Users with no reaction are absent.
WITH day_reactions AS (
  SELECT
    r.user_id AS giver_id,
    p.user_id AS author_id,
    CASE WHEN r.kind = 'thanks' THEN 1 ELSE 0 END AS is_thanks
  FROM {{ source "social" "reactions" }} AS r
  LEFT JOIN {{ state "social" "posts" }} AS p ON p.id = r.post_id
  WHERE (r.deleted_at IS NULL OR r.deleted_at >= {{ day_end }})
    AND (p.deleted_at IS NULL OR p.deleted_at >= {{ day_end }})
    AND r.created_at >= {{ day_start }} AND r.created_at < {{ day_end }}
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
