-- One row /readyz writes to: a server is ready only when the database takes
-- writes (not read-only, not out of disk), since every answer is stored.
CREATE TABLE health (
    id int PRIMARY KEY CHECK (id = 1),
    checked_at timestamptz NOT NULL
);
INSERT INTO health VALUES (1, now());
