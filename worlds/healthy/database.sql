-- Application database "shop" as seen by orders-service and payment-service.
-- Loads into an empty database with: psql -v ON_ERROR_STOP=1 -d <db> -f database.sql

SET client_encoding = 'UTF8';
SET TIME ZONE 'UTC';

CREATE TABLE customers (
    id          integer     PRIMARY KEY,
    full_name   text        NOT NULL,
    email       text        NOT NULL UNIQUE,
    phone       text,
    country     char(2)     NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE orders (
    id              bigint        PRIMARY KEY,
    customer_id     integer       NOT NULL REFERENCES customers (id),
    customer_name   text          NOT NULL,
    customer_email  text          NOT NULL,
    customer_phone  text,
    amount          numeric(10,2) NOT NULL CHECK (amount > 0),
    currency        char(3)       NOT NULL,
    status          text          NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'refunded', 'cancelled')),
    failure_reason  text,
    created_at      timestamptz   NOT NULL,
    updated_at      timestamptz   NOT NULL,
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);
CREATE INDEX orders_status_created_at_idx ON orders (status, created_at DESC);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);

-- One row per charge attempt that reached payment-service.
CREATE TABLE payments (
    id          text          PRIMARY KEY,
    order_id    bigint        NOT NULL REFERENCES orders (id),
    attempt     smallint      NOT NULL,
    gateway     text          NOT NULL,
    status      text          NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
    error_code  text,
    amount      numeric(10,2) NOT NULL,
    currency    char(3)       NOT NULL,
    created_at  timestamptz   NOT NULL,
    UNIQUE (order_id, attempt)
);

INSERT INTO customers (id, full_name, email, phone, country, created_at) VALUES
    (8841, 'Daniel Okafor', 'daniel.okafor@example.com', '+1-202-555-0191', 'US', '2025-10-14T10:11:09Z'),
    (8874, 'Lukas Brandt', 'lukas.brandt@example.com', '+1-312-555-0129', 'US', '2025-10-28T19:42:51Z'),
    (8903, 'Emma Lindqvist', 'emma.lindqvist@example.com', '+1-503-555-0164', 'US', '2025-11-08T08:15:30Z'),
    (8957, 'Rafael Souza', 'rafael.souza@example.com', '+1-408-555-0136', 'US', '2025-12-05T21:03:12Z'),
    (9012, 'Hannah Kim', 'hannah.kim@example.com', '+1-213-555-0177', 'US', '2025-12-24T12:44:05Z'),
    (9046, 'Oliver Bennett', 'oliver.bennett@example.com', '+44 20 7946 0958', 'GB', '2026-01-14T17:20:48Z'),
    (9081, 'Fatima Zahra', 'fatima.zahra@example.com', '+1-617-555-0102', 'US', '2026-01-27T09:58:33Z'),
    (9118, 'Sophie Laurent', 'sophie.laurent@example.com', '+1-617-555-0158', 'FR', '2026-02-08T14:12:19Z'),
    (9127, 'Marcus Reed', 'marcus.reed@example.com', '+1-702-555-0140', 'US', '2026-02-13T11:05:57Z'),
    (9163, 'Yuki Tanaka', 'yuki.tanaka@example.com', '+1-808-555-0121', 'US', '2026-03-14T07:36:44Z'),
    (9204, 'Isabella Rossi', 'isabella.rossi@example.com', '+1-718-555-0185', 'IT', '2026-04-01T16:50:02Z'),
    (9238, 'Noah Fischer', 'noah.fischer@example.com', '+1-612-555-0117', 'DE', '2026-04-24T13:27:40Z'),
    (9271, 'Chloe Martin', 'chloe.martin@example.com', '+1-404-555-0153', 'US', '2026-05-16T20:09:15Z'),
    (9305, 'Ethan Walsh', 'ethan.walsh@example.com', '+1-215-555-0196', 'US', '2026-06-13T10:31:26Z'),
    (9342, 'Maria Gonzalez', 'maria.gonzalez@example.com', '+1-415-555-0147', 'US', '2026-07-02T18:47:03Z'),
    (9377, 'Kenji Watanabe', 'kenji.watanabe@example.com', '+1-206-555-0183', 'US', '2026-07-21T06:22:58Z'),
    (9398, 'Aisha Bello', 'aisha.bello@example.com', '+44 20 7946 0321', 'GB', '2026-08-15T15:14:37Z'),
    (9415, 'Grace Liu', 'grace.liu@example.com', '+1-650-555-0138', 'US', '2026-09-10T12:03:49Z'),
    (9431, 'Priya Raman', 'priya.raman@example.com', '+1-646-555-0175', 'US', '2026-09-29T09:40:11Z'),
    (9466, 'Jonas Berg', 'jonas.berg@example.com', '+1-303-555-0109', 'US', '2026-10-18T22:18:25Z'),
    (9488, 'Amelia Clarke', 'amelia.clarke@example.com', '+44 20 7946 0774', 'GB', '2026-11-08T08:55:02Z'),
    (9502, 'Tomás Herrera', 'tomas.herrera@example.com', '+1-305-555-0112', 'US', '2026-11-17T19:26:44Z');

INSERT INTO orders (id, customer_id, customer_name, customer_email, customer_phone, amount, currency, status, failure_reason, created_at, updated_at) VALUES
    (10468, 9012, 'Hannah Kim', 'hannah.kim@example.com', '+1-213-555-0177', 64.00, 'USD', 'completed', NULL, '2026-11-20T09:04:12Z', '2026-11-20T09:04:13Z'),
    (10469, 8957, 'Rafael Souza', 'rafael.souza@example.com', '+1-408-555-0136', 219.00, 'USD', 'completed', NULL, '2026-11-20T09:17:48Z', '2026-11-20T09:17:49Z'),
    (10470, 9046, 'Oliver Bennett', 'oliver.bennett@example.com', '+44 20 7946 0958', 38.50, 'GBP', 'completed', NULL, '2026-11-20T09:31:05Z', '2026-11-20T09:31:06Z'),
    (10471, 9163, 'Yuki Tanaka', 'yuki.tanaka@example.com', '+1-808-555-0121', 12.90, 'USD', 'completed', NULL, '2026-11-20T09:52:37Z', '2026-11-20T09:52:38Z'),
    (10472, 9271, 'Chloe Martin', 'chloe.martin@example.com', '+1-404-555-0153', 149.00, 'USD', 'completed', NULL, '2026-11-20T10:08:19Z', '2026-11-20T10:08:20Z'),
    (10473, 8903, 'Emma Lindqvist', 'emma.lindqvist@example.com', '+1-503-555-0164', 27.80, 'USD', 'completed', NULL, '2026-11-20T10:26:54Z', '2026-11-20T10:26:55Z'),
    (10474, 9204, 'Isabella Rossi', 'isabella.rossi@example.com', '+1-718-555-0185', 89.00, 'EUR', 'completed', NULL, '2026-11-20T10:41:30Z', '2026-11-20T10:41:31Z'),
    (10475, 9081, 'Fatima Zahra', 'fatima.zahra@example.com', '+1-617-555-0102', 54.20, 'USD', 'refunded', NULL, '2026-11-20T10:58:02Z', '2026-11-20T12:14:40Z'),
    (10476, 9305, 'Ethan Walsh', 'ethan.walsh@example.com', '+1-215-555-0196', 312.40, 'USD', 'completed', NULL, '2026-11-20T11:12:45Z', '2026-11-20T11:12:46Z'),
    (10477, 9415, 'Grace Liu', 'grace.liu@example.com', '+1-650-555-0138', 19.99, 'USD', 'completed', NULL, '2026-11-20T11:24:16Z', '2026-11-20T11:24:17Z'),
    (10478, 8841, 'Daniel Okafor', 'daniel.okafor@example.com', '+1-202-555-0191', 74.00, 'USD', 'completed', NULL, '2026-11-20T11:37:58Z', '2026-11-20T11:37:59Z'),
    (10479, 9238, 'Noah Fischer', 'noah.fischer@example.com', '+1-612-555-0117', 45.60, 'EUR', 'completed', NULL, '2026-11-20T11:49:21Z', '2026-11-20T11:49:22Z'),
    (10480, 9466, 'Jonas Berg', 'jonas.berg@example.com', '+1-303-555-0109', 133.00, 'USD', 'completed', NULL, '2026-11-20T12:01:07Z', '2026-11-20T12:01:08Z'),
    (10481, 9127, 'Marcus Reed', 'marcus.reed@example.com', '+1-702-555-0140', 23.40, 'USD', 'completed', NULL, '2026-11-20T12:09:33Z', '2026-11-20T12:09:34Z'),
    (10482, 9488, 'Amelia Clarke', 'amelia.clarke@example.com', '+44 20 7946 0774', 67.25, 'GBP', 'completed', NULL, '2026-11-20T12:18:50Z', '2026-11-20T12:18:51Z'),
    (10483, 9012, 'Hannah Kim', 'hannah.kim@example.com', '+1-213-555-0177', 41.00, 'USD', 'completed', NULL, '2026-11-20T12:27:14Z', '2026-11-20T12:27:15Z'),
    (10484, 9163, 'Yuki Tanaka', 'yuki.tanaka@example.com', '+1-808-555-0121', 98.70, 'USD', 'completed', NULL, '2026-11-20T12:33:41Z', '2026-11-20T12:33:42Z'),
    (10485, 8957, 'Rafael Souza', 'rafael.souza@example.com', '+1-408-555-0136', 15.50, 'USD', 'completed', NULL, '2026-11-20T12:40:26Z', '2026-11-20T12:40:27Z'),
    (10486, 9305, 'Ethan Walsh', 'ethan.walsh@example.com', '+1-215-555-0196', 256.00, 'USD', 'completed', NULL, '2026-11-20T12:46:59Z', '2026-11-20T12:47:00Z'),
    (10487, 9271, 'Chloe Martin', 'chloe.martin@example.com', '+1-404-555-0153', 33.10, 'USD', 'completed', NULL, '2026-11-20T12:51:12Z', '2026-11-20T12:51:13Z'),
    (10488, 9204, 'Isabella Rossi', 'isabella.rossi@example.com', '+1-718-555-0185', 72.00, 'EUR', 'completed', NULL, '2026-11-20T12:55:38Z', '2026-11-20T12:55:39Z'),
    (10489, 9415, 'Grace Liu', 'grace.liu@example.com', '+1-650-555-0138', 48.00, 'USD', 'completed', NULL, '2026-11-20T12:58:44Z', '2026-11-20T12:58:45Z'),
    (10490, 9342, 'Maria Gonzalez', 'maria.gonzalez@example.com', '+1-415-555-0147', 129.00, 'USD', 'completed', NULL, '2026-11-20T13:04:40Z', '2026-11-20T13:04:41Z'),
    (10491, 9377, 'Kenji Watanabe', 'kenji.watanabe@example.com', '+1-206-555-0183', 57.40, 'USD', 'completed', NULL, '2026-11-20T13:17:30Z', '2026-11-20T13:17:31Z'),
    (10492, 9398, 'Aisha Bello', 'aisha.bello@example.com', '+44 20 7946 0321', 74.99, 'GBP', 'completed', NULL, '2026-11-20T13:27:20Z', '2026-11-20T13:27:21Z'),
    (10493, 8874, 'Lukas Brandt', 'lukas.brandt@example.com', '+1-312-555-0129', 42.50, 'USD', 'completed', NULL, '2026-11-20T13:34:20Z', '2026-11-20T13:34:21Z'),
    (10494, 9431, 'Priya Raman', 'priya.raman@example.com', '+1-646-555-0175', 89.90, 'USD', 'completed', NULL, '2026-11-20T13:45:51Z', '2026-11-20T13:45:52Z'),
    (10495, 9502, 'Tomás Herrera', 'tomas.herrera@example.com', '+1-305-555-0112', 23.75, 'USD', 'completed', NULL, '2026-11-20T13:51:41Z', '2026-11-20T13:51:42Z'),
    (10496, 9118, 'Sophie Laurent', 'sophie.laurent@example.com', '+1-617-555-0158', 151.20, 'EUR', 'completed', NULL, '2026-11-20T13:58:52Z', '2026-11-20T13:58:53Z');

INSERT INTO payments (id, order_id, attempt, gateway, status, error_code, amount, currency, created_at) VALUES
    ('pay_10468', 10468, 1, 'payments-provider-v2', 'succeeded', NULL, 64.00, 'USD', '2026-11-20T09:04:13Z'),
    ('pay_10469', 10469, 1, 'payments-provider-v2', 'succeeded', NULL, 219.00, 'USD', '2026-11-20T09:17:49Z'),
    ('pay_10470', 10470, 1, 'payments-provider-v2', 'succeeded', NULL, 38.50, 'GBP', '2026-11-20T09:31:06Z'),
    ('pay_10471', 10471, 1, 'payments-provider-v2', 'succeeded', NULL, 12.90, 'USD', '2026-11-20T09:52:38Z'),
    ('pay_10472', 10472, 1, 'payments-provider-v2', 'succeeded', NULL, 149.00, 'USD', '2026-11-20T10:08:20Z'),
    ('pay_10473', 10473, 1, 'payments-provider-v2', 'succeeded', NULL, 27.80, 'USD', '2026-11-20T10:26:55Z'),
    ('pay_10474', 10474, 1, 'payments-provider-v2', 'succeeded', NULL, 89.00, 'EUR', '2026-11-20T10:41:31Z'),
    ('pay_10475', 10475, 1, 'payments-provider-v2', 'refunded', NULL, 54.20, 'USD', '2026-11-20T10:58:03Z'),
    ('pay_10476', 10476, 1, 'payments-provider-v2', 'succeeded', NULL, 312.40, 'USD', '2026-11-20T11:12:46Z'),
    ('pay_10477', 10477, 1, 'payments-provider-v2', 'succeeded', NULL, 19.99, 'USD', '2026-11-20T11:24:17Z'),
    ('pay_10478', 10478, 1, 'payments-provider-v2', 'succeeded', NULL, 74.00, 'USD', '2026-11-20T11:37:59Z'),
    ('pay_10479', 10479, 1, 'payments-provider-v2', 'succeeded', NULL, 45.60, 'EUR', '2026-11-20T11:49:22Z'),
    ('pay_10480', 10480, 1, 'payments-provider-v2', 'succeeded', NULL, 133.00, 'USD', '2026-11-20T12:01:08Z'),
    ('pay_10481', 10481, 1, 'payments-provider-v2', 'succeeded', NULL, 23.40, 'USD', '2026-11-20T12:09:34Z'),
    ('pay_10482', 10482, 1, 'payments-provider-v2', 'succeeded', NULL, 67.25, 'GBP', '2026-11-20T12:18:51Z'),
    ('pay_10483', 10483, 1, 'payments-provider-v2', 'succeeded', NULL, 41.00, 'USD', '2026-11-20T12:27:15Z'),
    ('pay_10484', 10484, 1, 'payments-provider-v2', 'succeeded', NULL, 98.70, 'USD', '2026-11-20T12:33:42Z'),
    ('pay_10485', 10485, 1, 'payments-provider-v2', 'succeeded', NULL, 15.50, 'USD', '2026-11-20T12:40:27Z'),
    ('pay_10486', 10486, 1, 'payments-provider-v2', 'succeeded', NULL, 256.00, 'USD', '2026-11-20T12:47:00Z'),
    ('pay_10487', 10487, 1, 'payments-provider-v2', 'succeeded', NULL, 33.10, 'USD', '2026-11-20T12:51:13Z'),
    ('pay_10488', 10488, 1, 'payments-provider-v2', 'succeeded', NULL, 72.00, 'EUR', '2026-11-20T12:55:39Z'),
    ('pay_10489', 10489, 1, 'payments-provider-v2', 'succeeded', NULL, 48.00, 'USD', '2026-11-20T12:58:45Z'),
    ('pay_10490', 10490, 1, 'payments-provider-v2', 'succeeded', NULL, 129.00, 'USD', '2026-11-20T13:04:41Z'),
    ('pay_10491', 10491, 1, 'payments-provider-v2', 'succeeded', NULL, 57.40, 'USD', '2026-11-20T13:17:31Z'),
    ('pay_10492', 10492, 1, 'payments-provider-v2', 'succeeded', NULL, 74.99, 'GBP', '2026-11-20T13:27:21Z'),
    ('pay_10493', 10493, 1, 'payments-provider-v2', 'succeeded', NULL, 42.50, 'USD', '2026-11-20T13:34:21Z'),
    ('pay_10494', 10494, 1, 'payments-provider-v2', 'succeeded', NULL, 89.90, 'USD', '2026-11-20T13:45:52Z'),
    ('pay_10495', 10495, 1, 'payments-provider-v2', 'succeeded', NULL, 23.75, 'USD', '2026-11-20T13:51:42Z'),
    ('pay_10496', 10496, 1, 'payments-provider-v2', 'succeeded', NULL, 151.20, 'EUR', '2026-11-20T13:58:53Z');
