-- The Noblestride database the pipelines read: users, the businesses and investors they run, the
-- deals between them and feedback on recommendations. Load into a database named `noblestride`.
CREATE TABLE users (
    id          integer PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    full_name   text NOT NULL,
    role        text NOT NULL CHECK (role IN ('founder', 'investor', 'analyst')),
    created_at  timestamptz NOT NULL
);

CREATE TABLE businesses (
    id          integer PRIMARY KEY,
    owner_id    integer NOT NULL REFERENCES users (id),
    name        text NOT NULL,
    sector      text NOT NULL,
    stage       text NOT NULL,
    funding_ask numeric(14, 2) NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE investors (
    id              integer PRIMARY KEY,
    user_id         integer NOT NULL REFERENCES users (id),
    firm_name       text NOT NULL,
    preferred_sector text NOT NULL,
    ticket_min      numeric(14, 2) NOT NULL,
    ticket_max      numeric(14, 2) NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE deals (
    id          integer PRIMARY KEY,
    business_id integer NOT NULL REFERENCES businesses (id),
    investor_id integer NOT NULL REFERENCES investors (id),
    amount      numeric(14, 2) NOT NULL,
    status      text NOT NULL CHECK (status IN ('proposed', 'negotiating', 'closed', 'declined')),
    created_at  timestamptz NOT NULL
);

CREATE TABLE feedback (
    id          integer PRIMARY KEY,
    user_id     integer NOT NULL REFERENCES users (id),
    business_id integer NOT NULL REFERENCES businesses (id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     text,
    created_at  timestamptz NOT NULL
);

-- A view: table_summary counts base tables only, so this must not appear in its output.
CREATE VIEW deal_overview AS
    SELECT d.id, b.name AS business, i.firm_name AS investor, d.amount, d.status
    FROM deals d JOIN businesses b ON b.id = d.business_id JOIN investors i ON i.id = d.investor_id;
