ALTER TABLE "hosts" ADD COLUMN "gateway_id" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "connection_id" text;--> statement-breakpoint
CREATE INDEX "jobs_running_connection_idx" ON "jobs" USING btree ("connection_id") WHERE status = 'running';