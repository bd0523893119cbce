-- The state of social.posts at the end of the day: the day's partition, and the rows of
-- the previous day's state whose key it does not hold.
SELECT i."id", i."user_id", i."created_at", i."updated_at", i."deleted_at"
FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2026-11-24') AS i
UNION ALL
SELECT s."id", s."user_id", s."created_at", s."updated_at", s."deleted_at"
FROM (SELECT * FROM "kpilake_prod"."kpi_state_social_posts" WHERE "dt" = '2026-11-23') AS s
WHERE NOT EXISTS (SELECT 1 FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" = '2026-11-24') AS i WHERE i."id" = s."id")

-- The state of social.posts at the end of the day, rebuilt from every partition up to it:
-- for each key, the row of the latest partition that holds it.
SELECT v."id", v."user_id", v."created_at", v."updated_at", v."deleted_at"
FROM (
  SELECT r.*, MAX(r."dt") OVER (PARTITION BY r."id") AS "kpilake_latest_dt"
  FROM (SELECT * FROM "kpilake_prod"."social_posts" WHERE "dt" <= '2026-11-24') AS r
) AS v
WHERE v."dt" = v."kpilake_latest_dt"
