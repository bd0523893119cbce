SELECT
  CAST(l.department_id AS BIGINT) AS department_id,
  COUNT(DISTINCT l.user_id) AS active_users
FROM (SELECT * FROM "kpilake_prod"."app_logs_web_access" WHERE "dt" BETWEEN '2026-11-24' AND '2026-11-25' AND (from_iso8601_timestamp("timestamp") >= TIMESTAMP '2026-11-23 15:00:00.000 UTC' AND from_iso8601_timestamp("timestamp") < TIMESTAMP '2026-11-24 15:00:00.000 UTC' OR "timestamp" IS NULL AND "dt" = '2026-11-24')) AS l
WHERE l.user_id IS NOT NULL
GROUP BY CAST(l.department_id AS BIGINT)
