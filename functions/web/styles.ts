/** The one stylesheet, served by KWS itself (no CDN). */
export const stylesheet = `
:root { --fg:#1b1f24; --muted:#5b6570; --bg:#f6f7f9; --card:#fff; --accent:#2457c5; --err:#b42318; --ok:#067647; --line:#d9dee4; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { background:var(--card); border-bottom:1px solid var(--line); padding:.75rem 1rem; display:flex; gap:1rem; align-items:center; justify-content:space-between; }
header a.brand { font-weight:700; color:var(--fg); text-decoration:none; letter-spacing:.04em; }
main { max-width:32rem; margin:2rem auto; padding:0 1rem; }
main.wide { max-width:56rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1.5rem; }
.card + .card { margin-top:1rem; }
h1 { font-size:1.4rem; margin:0 0 1rem; }
label { display:block; font-weight:600; margin-top:1rem; }
input { width:100%; padding:.6rem .7rem; font:inherit; border:1px solid var(--line); border-radius:6px; margin-top:.3rem; }
select { width:100%; padding:.6rem; font:inherit; margin-top:.3rem; }
form.inline { display:inline; }
table.list { width:100%; border-collapse:collapse; }
input[aria-invalid=true] { border-color:var(--err); }
.field-error { color:var(--err); font-size:.9rem; margin:.25rem 0 0; }
button { font:inherit; padding:.6rem 1.1rem; border-radius:6px; border:0; background:var(--accent); color:#fff; cursor:pointer; margin-top:1.25rem; }
button.link { background:none; color:var(--accent); padding:0; margin:0; }
.notice { padding:.75rem 1rem; border-radius:6px; margin-bottom:1rem; background:#eef4ff; }
.notice.error { background:#fef3f2; color:var(--err); }
.notice.ok { background:#ecfdf3; color:var(--ok); }
.dot { display:inline-block; width:.7rem; height:.7rem; border-radius:50%; background:#c4c4c4; }
.dot.on { background:#12b76a; }
pre { white-space:pre-wrap; word-break:break-all; background:#f6f6f6; padding:.6rem; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:.4rem 1rem; }
dt { color:var(--muted); } dd { margin:0; word-break:break-all; }
p.alt { color:var(--muted); margin-top:1.25rem; }
@media (max-width:480px) { main { margin:1rem auto; } .card { padding:1rem; } }
`;
