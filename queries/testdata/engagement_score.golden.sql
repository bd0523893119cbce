WITH combined AS (
  SELECT
    COALESCE(a.department_id, d.department_id) AS department_id,
    COALESCE(a.active_users, 0) AS active_users,
    COALESCE(d.posts, 0) AS posts,
    COALESCE(d.comments, 0) AS comments,
    COALESCE(d.reactions, 0) AS reactions,
    COALESCE(d.thanks, 0) AS thanks
  FROM (SELECT * FROM "kpilake_prod"."kpi_active_users_by_department" WHERE "dt" = '2026-11-24') AS a
  FULL OUTER JOIN (SELECT * FROM "kpilake_prod"."kpi_department_activity" WHERE "dt" = '2026-11-24') AS d ON d.department_id IS NOT DISTINCT FROM a.department_id
)
SELECT
  c.department_id,
  dep.name AS department_name,
  c.active_users,
  c.posts + c.comments + c.reactions AS actions,
  ROUND(CAST(3 * c.posts + 2 * c.comments + c.reactions + c.thanks AS DOUBLE) / NULLIF(c.active_users, 0), 2) AS engagement_score
FROM combined AS c
LEFT JOIN (SELECT * FROM "kpilake_prod"."social_departments" WHERE "dt" = '2026-11-24') AS dep ON dep.id = c.department_id
