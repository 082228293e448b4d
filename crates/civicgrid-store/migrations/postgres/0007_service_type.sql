-- Open311 service type of a category: realtime answers with the id, batch with a token.
ALTER TABLE categories ADD COLUMN service_type TEXT NOT NULL DEFAULT 'realtime' CHECK (service_type IN ('realtime', 'batch'));
