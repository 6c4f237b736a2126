-- Deterministic sample data (no random()): 1247 users, 150 businesses, 75 investors, 89 deals,
-- 542 feedback rows. Timestamps count from a fixed instant so every load is identical.
INSERT INTO users (id, email, full_name, role, created_at)
SELECT n, 'user' || n || '@noblestride.example', 'User ' || n,
       (ARRAY['founder', 'investor', 'analyst'])[1 + n % 3],
       timestamptz '2025-01-01 00:00:00+00' + n * interval '1 hour'
FROM generate_series(1, 1247) AS n;

INSERT INTO businesses (id, owner_id, name, sector, stage, funding_ask, created_at)
SELECT n, 1 + (n * 7) % 1247, 'Business ' || n,
       (ARRAY['fintech', 'agritech', 'healthtech', 'edtech', 'logistics', 'energy'])[1 + n % 6],
       (ARRAY['pre-seed', 'seed', 'series-a', 'series-b'])[1 + n % 4],
       25000 + n * 1500,
       timestamptz '2025-02-01 00:00:00+00' + n * interval '1 day'
FROM generate_series(1, 150) AS n;

INSERT INTO investors (id, user_id, firm_name, preferred_sector, ticket_min, ticket_max, created_at)
SELECT n, 1 + (n * 13) % 1247, 'Capital Partners ' || n,
       (ARRAY['fintech', 'agritech', 'healthtech', 'edtech', 'logistics', 'energy'])[1 + (n * 5) % 6],
       10000 * (1 + n % 5), 100000 * (1 + n % 7),
       timestamptz '2025-02-15 00:00:00+00' + n * interval '2 days'
FROM generate_series(1, 75) AS n;

INSERT INTO deals (id, business_id, investor_id, amount, status, created_at)
SELECT n, 1 + (n * 11) % 150, 1 + (n * 17) % 75, 50000 + n * 2500,
       (ARRAY['proposed', 'negotiating', 'closed', 'declined'])[1 + n % 4],
       timestamptz '2025-04-01 00:00:00+00' + n * interval '1 day'
FROM generate_series(1, 89) AS n;

INSERT INTO feedback (id, user_id, business_id, rating, comment, created_at)
SELECT n, 1 + (n * 29) % 1247, 1 + (n * 3) % 150, 1 + n % 5,
       CASE WHEN n % 4 = 0 THEN NULL ELSE 'Feedback ' || n END,
       timestamptz '2025-05-01 00:00:00+00' + n * interval '3 hours'
FROM generate_series(1, 542) AS n;
