CREATE TABLE "hook_deliveries" (
	"hook_id" uuid NOT NULL,
	"delivery_id" text NOT NULL,
	"run_id" uuid,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hook_deliveries_hook_id_delivery_id_pk" PRIMARY KEY("hook_id","delivery_id")
);
--> statement-breakpoint
CREATE TABLE "hook_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"hook_id" uuid NOT NULL,
	"status" text NOT NULL,
	"event" text,
	"job_id" uuid,
	"exit_code" integer,
	"output" text DEFAULT '' NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "hooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"provider" text NOT NULL,
	"command" text NOT NULL,
	"secret_encrypted" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "hook_deliveries" ADD CONSTRAINT "hook_deliveries_hook_id_hooks_id_fk" FOREIGN KEY ("hook_id") REFERENCES "public"."hooks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hook_deliveries" ADD CONSTRAINT "hook_deliveries_run_id_hook_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."hook_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hook_runs" ADD CONSTRAINT "hook_runs_hook_id_hooks_id_fk" FOREIGN KEY ("hook_id") REFERENCES "public"."hooks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hook_runs" ADD CONSTRAINT "hook_runs_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hooks" ADD CONSTRAINT "hooks_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "hook_deliveries_run_idx" ON "hook_deliveries" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "hook_runs_running_key" ON "hook_runs" USING btree ("hook_id") WHERE "hook_runs"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "hook_runs_queued_key" ON "hook_runs" USING btree ("hook_id") WHERE "hook_runs"."status" = 'queued';--> statement-breakpoint
CREATE INDEX "hook_runs_hook_created_idx" ON "hook_runs" USING btree ("hook_id","created_at");--> statement-breakpoint
CREATE INDEX "hook_runs_job_idx" ON "hook_runs" USING btree ("job_id");--> statement-breakpoint
CREATE UNIQUE INDEX "hooks_user_name_key" ON "hooks" USING btree ("user_id","name");