-- name: engagement_score
-- description: Engagement score per department on the day: (3 posts + 2 comments + reactions +
--   thanks) / active users, rounded to two decimals, with posts, comments, reactions and thanks
--   from department_activity (created-at day, departments from the users snapshot) and active users
--   from active_users_by_department (arrival day, departments from the log records). actions =
--   posts + comments + reactions. A department present in either KPI has a row, the missing side
--   counting 0; the score is NULL when it has no active user, and 0 with active users but no
--   activity. department_name is the department's name in the departments snapshot of the day,
--   taken by the day's extraction early on D+1 (01:30 by default: a rename on D+1 after it keeps
--   D's name, one between midnight and the extraction already shows for D; a soft-deleted
--   department keeps its name), NULL for a department_id that snapshot lacks and for the NULL
--   department.
-- depends_on: active_users_by_department, department_activity
-- sources: social.departments
--
-- engagement_score = (3 posts + 2 comments + reactions + thanks) / active users, rounded to two
-- decimals; NULL when a department has activity but no active user (which the access logs do
-- not allow). actions = posts + comments + reactions. A department with neither activity nor
-- active users is absent. department_name is the name in the day's departments snapshot.
WITH combined AS (
  SELECT
    COALESCE(a.department_id, d.department_id) AS department_id,
    COALESCE(a.active_users, 0) AS active_users,
    COALESCE(d.posts, 0) AS posts,
    COALESCE(d.comments, 0) AS comments,
    COALESCE(d.reactions, 0) AS reactions,
    COALESCE(d.thanks, 0) AS thanks
  FROM {{ kpi "active_users_by_department" }} AS a
  FULL OUTER JOIN {{ kpi "department_activity" }} AS d ON d.department_id IS NOT DISTINCT FROM a.department_id
)
SELECT
  c.department_id,
  dep.name AS department_name,
  c.active_users,
  c.posts + c.comments + c.reactions AS actions,
  ROUND(CAST(3 * c.posts + 2 * c.comments + c.reactions + c.thanks AS DOUBLE) / NULLIF(c.active_users, 0), 2) AS engagement_score
FROM combined AS c
LEFT JOIN {{ source "social" "departments" }} AS dep ON dep.id = c.department_id
