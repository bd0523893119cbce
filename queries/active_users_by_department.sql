-- name: active_users_by_department
-- description: Daily active users per department: the distinct signed-in users among the web
--   access-log records of the day, counted under the department_id each record carries.
-- depends_on:
-- sources: app_logs.web_access
--
-- Every request counts, whatever its method and status; anonymous records (health checks, the
-- sign-in page) carry no user_id and do not. The department is the record's own department_id,
-- so a user who has moved or left since still counts where they were that day. The day is the
-- partition: Firehose files a record under its arrival day in the business time zone.
SELECT
  CAST(l.department_id AS BIGINT) AS department_id,
  COUNT(DISTINCT l.user_id) AS active_users
FROM {{ source "app_logs" "web_access" }} AS l
WHERE l.user_id IS NOT NULL
GROUP BY CAST(l.department_id AS BIGINT)
