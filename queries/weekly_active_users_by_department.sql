-- name: weekly_active_users_by_department
-- description: Weekly active users per department: the number of distinct user_id values among the
--   web access-log records filed in the 7 arrival-day partitions D-6 to D (the 7 days ending with
--   the day, by arrival day in the business time zone, as in active_users_by_department: a record
--   stamped late on D-7 that arrived on D-6 is in, one stamped late on D that arrived on D+1 is
--   not), grouped by the department_id each record carries. A user counts once per department
--   however many days they were active; one whose records carry two departments within the window
--   (a move) counts once in each. Anonymous records (no user_id) never count; a record without a
--   department_id counts under a NULL department_id. A missing day in the window counts as a day
--   without records.
-- depends_on:
-- sources: app_logs.web_access
--
-- The same rules as active_users_by_department, over a trailing window of 7 partitions. A user
-- whose records carry two departments within the window (a move) counts in both.
SELECT
  CAST(l.department_id AS BIGINT) AS department_id,
  COUNT(DISTINCT l.user_id) AS active_users_7d
FROM {{ source_window "app_logs" "web_access" 7 }} AS l
WHERE l.user_id IS NOT NULL
GROUP BY CAST(l.department_id AS BIGINT)
