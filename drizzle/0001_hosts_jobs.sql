CREATE TABLE "hosts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"public_address" text,
	"draining" boolean DEFAULT false NOT NULL,
	"enrollment_token_hash" text,
	"enrollment_expires_at" timestamp with time zone,
	"credential_hash" text,
	"enrolled_at" timestamp with time zone,
	"connection_id" text,
	"connected_at" timestamp with time zone,
	"disconnected_at" timestamp with time zone,
	"last_heartbeat_at" timestamp with time zone,
	"agent_version" text,
	"lxd_version" text,
	"degraded_reason" text,
	"facts" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host_id" uuid NOT NULL,
	"user_id" uuid,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"steps" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"deadline" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_name_key" ON "hosts" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_enrollment_token_key" ON "hosts" USING btree ("enrollment_token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_credential_key" ON "hosts" USING btree ("credential_hash");--> statement-breakpoint
CREATE INDEX "jobs_host_status_idx" ON "jobs" USING btree ("host_id","status");--> statement-breakpoint
CREATE INDEX "jobs_user_idx" ON "jobs" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "jobs_open_deadline_idx" ON "jobs" USING btree ("deadline") WHERE status in ('queued', 'running');