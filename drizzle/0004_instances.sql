CREATE TABLE "instances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"host_id" uuid NOT NULL,
	"name" text NOT NULL,
	"username" text NOT NULL,
	"password_encrypted" text NOT NULL,
	"ipv4" text NOT NULL,
	"image" text NOT NULL,
	"memory_mb" integer NOT NULL,
	"cpus" integer,
	"state" text NOT NULL,
	"job_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "home_host_id" uuid;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "instances_user_key" ON "instances" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "instances_name_key" ON "instances" USING btree ("name");--> statement-breakpoint
CREATE INDEX "instances_host_idx" ON "instances" USING btree ("host_id");--> statement-breakpoint
CREATE INDEX "instances_job_idx" ON "instances" USING btree ("job_id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_home_host_id_hosts_id_fk" FOREIGN KEY ("home_host_id") REFERENCES "public"."hosts"("id") ON DELETE set null ON UPDATE no action;