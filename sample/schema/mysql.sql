-- kpilake sample source: an enterprise social network, MySQL 8 / Aurora MySQL / MariaDB 10.6+.
--
-- Every timestamp is DATETIME(3) holding UTC, to the millisecond. The application writes them
-- explicitly; there is deliberately no DEFAULT CURRENT_TIMESTAMP, which would follow the session's
-- time_zone. Rows are soft-deleted: deleted_at is set (and updated_at moved to the same instant)
-- instead of deleting the row. updated_at is indexed on every table for incremental extraction.
-- Statements are separated by a semicolon at the end of a line.

CREATE TABLE departments (
  id         BIGINT       NOT NULL AUTO_INCREMENT,
  name       VARCHAR(100) NOT NULL,
  parent_id  BIGINT       NULL,
  created_at DATETIME(3)  NOT NULL,
  updated_at DATETIME(3)  NOT NULL,
  deleted_at DATETIME(3)  NULL,
  PRIMARY KEY (id),
  KEY departments_parent_id_idx (parent_id),
  KEY departments_updated_at_idx (updated_at),
  CONSTRAINT departments_parent_id_fk FOREIGN KEY (parent_id) REFERENCES departments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE users (
  id            BIGINT       NOT NULL AUTO_INCREMENT,
  department_id BIGINT       NOT NULL,
  employee_code VARCHAR(16)  NOT NULL,
  display_name  VARCHAR(100) NOT NULL,
  email         VARCHAR(255) NOT NULL,
  role          ENUM('member','manager','admin') NOT NULL DEFAULT 'member',
  joined_on     DATE         NOT NULL,
  created_at    DATETIME(3)  NOT NULL,
  updated_at    DATETIME(3)  NOT NULL,
  deleted_at    DATETIME(3)  NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_employee_code_key (employee_code),
  UNIQUE KEY users_email_key (email),
  KEY users_department_id_idx (department_id),
  KEY users_updated_at_idx (updated_at),
  CONSTRAINT users_department_id_fk FOREIGN KEY (department_id) REFERENCES departments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE posts (
  id         BIGINT      NOT NULL AUTO_INCREMENT,
  user_id    BIGINT      NOT NULL,
  body       TEXT        NOT NULL,
  visibility ENUM('public','department','private') NOT NULL DEFAULT 'public',
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  KEY posts_user_id_idx (user_id),
  KEY posts_created_at_idx (created_at),
  KEY posts_updated_at_idx (updated_at),
  CONSTRAINT posts_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE comments (
  id         BIGINT      NOT NULL AUTO_INCREMENT,
  post_id    BIGINT      NOT NULL,
  user_id    BIGINT      NOT NULL,
  body       TEXT        NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  KEY comments_post_id_idx (post_id),
  KEY comments_user_id_idx (user_id),
  KEY comments_updated_at_idx (updated_at),
  CONSTRAINT comments_post_id_fk FOREIGN KEY (post_id) REFERENCES posts (id),
  CONSTRAINT comments_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A reaction is given by user_id to the post's author. "Thanks" are reactions of kind 'thanks'.
CREATE TABLE reactions (
  id         BIGINT      NOT NULL AUTO_INCREMENT,
  post_id    BIGINT      NOT NULL,
  user_id    BIGINT      NOT NULL,
  kind       ENUM('like','thanks','celebrate','insightful') NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  KEY reactions_post_id_idx (post_id),
  KEY reactions_user_id_idx (user_id),
  KEY reactions_updated_at_idx (updated_at),
  CONSTRAINT reactions_post_id_fk FOREIGN KEY (post_id) REFERENCES posts (id),
  CONSTRAINT reactions_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
