import { createRouter } from "../app";
import { stylesheet } from "./styles";

export const staticRoutes = createRouter().get("/kws_static/style.css", (c) =>
  c.body(stylesheet, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
);
