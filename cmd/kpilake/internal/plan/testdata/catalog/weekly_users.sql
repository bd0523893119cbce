-- name: weekly_users
-- description: Signed-in users over the 7 days ending with the day.
-- depends_on:
-- sources: app_logs.web_access
SELECT COUNT(DISTINCT l.user_id) AS users_7d
FROM {{ source_window "app_logs" "web_access" 7 }} AS l
WHERE l.user_id IS NOT NULL
