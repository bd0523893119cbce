-- name: daily_users
-- description: Signed-in users on the day.
-- depends_on:
-- sources: app_logs.web_access
SELECT COUNT(DISTINCT l.user_id) AS users
FROM {{ source "app_logs" "web_access" }} AS l
WHERE l.user_id IS NOT NULL
