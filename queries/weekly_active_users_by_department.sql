-- name: weekly_active_users_by_department
-- description: Weekly active users per department: the number of distinct user_id values among the
--   web access-log records stamped in the 7 days D-6 to D (timestamp at or after D-6 00:00:00.000
--   and before D+1 00:00:00.000 in the business time zone), read from the arrival partitions D-6
--   to D+1, grouped by the department_id each record carries. The clock and the lateness are
--   those of active_users_by_department: a record stamped late on D-7 that arrived on D-6 is out,
--   one stamped late on D that arrived on D+1 is in, one that arrived two days late never counts; one without a timestamp counts on its arrival day.
--   A user counts once per department however many days they were active; one whose records
--   carry two departments within the window (a move) counts once in each. Anonymous records (no
--   user_id) never count; a record without a department_id counts under a NULL department_id.
--   A day without records counts as a day without activity.
-- depends_on:
-- sources: app_logs.web_access
--
-- The same rules as active_users_by_department, over a trailing window of 7 days. A user
-- whose records carry two departments within the window (a move) counts in both.
SELECT
  CAST(l.department_id AS BIGINT) AS department_id,
  COUNT(DISTINCT l.user_id) AS active_users_7d
FROM {{ events_window "app_logs" "web_access" 7 }} AS l
WHERE l.user_id IS NOT NULL
GROUP BY CAST(l.department_id AS BIGINT)
