-- name: posts_per_user
-- description: Posts per signed-in user, per department.
-- depends_on: daily_users, posts
-- sources: social.departments
SELECT d.id AS department_id, p.posts, u.users
FROM {{ source "social" "departments" }} AS d
JOIN {{ kpi "posts" }} AS p ON p.department_id = d.id
CROSS JOIN {{ kpi "daily_users" }} AS u
