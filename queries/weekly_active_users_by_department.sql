-- name: weekly_active_users_by_department
-- description: Weekly active users per department: the distinct signed-in users among the web
--   access-log records of the 7 days ending with the day, under each record's department_id.
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
