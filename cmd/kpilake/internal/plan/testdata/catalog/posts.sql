-- name: posts
-- description: Posts written on the day, per department.
-- depends_on:
-- sources: social.posts, social.users
SELECT u.department_id, COUNT(*) AS posts
FROM {{ source "social" "posts" }} AS p
JOIN {{ source "social" "users" }} AS u ON u.id = p.user_id
GROUP BY u.department_id
