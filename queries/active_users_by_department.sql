-- name: active_users_by_department
-- description: Daily active users per department: the number of distinct user_id values among the
--   web access-log records filed in the day's partition, grouped by the department_id each record
--   carries. The day is the arrival day: Firehose files a record under the business day (in the
--   business time zone) on which it arrived, so a record stamped 23:59:59.999 on D that arrives
--   after midnight counts for D+1, not D. Every record with a user_id counts, whatever its method
--   and status; anonymous records (no user_id) never count; a record without a department_id counts
--   under a NULL department_id. The department is the record's own, not the users table's, so a
--   user who moved or left since counts where the record put them, and a user whose records carry
--   two departments counts once in each. Departments with no active user are absent.
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
