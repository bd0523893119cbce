-- name: active_users_by_department
-- description: Daily active users per department: the number of distinct user_id values among the
--   web access-log records stamped on the day (timestamp at or after D 00:00:00.000 and before
--   D+1 00:00:00.000 in the business time zone, the request's own clock, not its arrival), read
--   from the arrival partitions of D and D+1, grouped by the department_id each record carries. A
--   record stamped 23:59:59.999 on D that arrives after midnight counts for D; one that arrives
--   after D+1 (two days late) never counts. D is published at the first log crawl after D (at
--   logCrawlTime on D+1), so a record that lands later than that counts only when D is
--   aggregated again (a backfill). A record without a timestamp counts on its arrival day. Every
--   record with a user_id counts, whatever its method and status; anonymous records (no user_id)
--   never count; a record without a department_id counts under a NULL department_id. The department is the record's own, not the users table's, so a
--   user who moved or left since counts where the record put them, and a user whose records of
--   the day carry two departments counts once in each. Departments with no active user are
--   absent.
-- depends_on:
-- sources: app_logs.web_access
--
-- Every request counts, whatever its method and status; anonymous records (health checks, the
-- sign-in page) carry no user_id and do not. The department is the record's own department_id,
-- so a user who has moved or left since still counts where they were that day. The day is the
-- record's timestamp: Firehose files a record under its arrival day, so events reads D's and
-- D+1's arrival partitions and keeps the records stamped on D.
SELECT
  CAST(l.department_id AS BIGINT) AS department_id,
  COUNT(DISTINCT l.user_id) AS active_users
FROM {{ events "app_logs" "web_access" }} AS l
WHERE l.user_id IS NOT NULL
GROUP BY CAST(l.department_id AS BIGINT)
