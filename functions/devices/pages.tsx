import { raw } from "hono/html";
import { z } from "zod";
import type { Device } from "../../shared/db/schema";
import { createRouter } from "../app";
import type { AuthUser } from "../env";
import { namesOne, type FieldErrors } from "../web/forms";
import { FORM_BEHAVIOURS } from "../web/behaviours";
import { BelowLimit, CsrfField, Field, ItemTable, Layout, Notice, RemoveButton } from "../web/layout";
import { buttonForm, fieldsForm, pageOf, signedInPage, thenGo } from "../web/pages";
import { Script } from "../web/script";
import { presentDevice } from "./present";
import { configQrSvg } from "./qr";
import { personOf } from "../audit/record";
import { quotasOf } from "../quotas/limits";
import { CreateDeviceBody, DeviceIdParam } from "./schemas";
import { createDevice, listDevices, removeDevice } from "./service";

const PAGE = "/kws_devices";

// Keeps the online dots, handshakes and traffic current without reloading the page.
const REFRESH = `(function(){
  function fmt(n){ return n < 1024 ? n + ' B' : n < 1048576 ? (n/1024).toFixed(1) + ' KiB' : (n/1048576).toFixed(1) + ' MiB'; }
  setInterval(function(){
    fetch('/api/v1/devices', { credentials: 'same-origin' }).then(function(r){ return r.json(); }).then(function(j){
      (j.devices || []).forEach(function(d){
        var row = document.querySelector('tr[data-device="' + d.id + '"]');
        if (!row) return;
        row.querySelector('.dot').className = 'dot ' + (d.online ? 'on' : 'off');
        row.querySelector('[data-cell=state]').textContent = d.state;
        row.querySelector('[data-cell=handshake]').textContent = d.lastHandshakeAt ? new Date(d.lastHandshakeAt).toLocaleString() : 'never';
        row.querySelector('[data-cell=traffic]').textContent = fmt(d.rxBytes) + ' in, ' + fmt(d.txBytes) + ' out';
      });
    });
  }, 10000);
})();`;

// WebCrypto X25519 where the browser has it: the private key is made here and never sent. The
// registration then goes through the JSON API and the config is completed in the page.
const GENERATE_IN_BROWSER = `(function(){
  var button = document.getElementById('generate');
  if (!button || !window.crypto || !crypto.subtle) return;
  function b64(buf){ return btoa(String.fromCharCode.apply(null, new Uint8Array(buf))); }
  crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']).then(function(){ button.hidden = false; }, function(){});
  var privateKey;
  button.addEventListener('click', function(){
    crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']).then(function(pair){
      return Promise.all([crypto.subtle.exportKey('raw', pair.publicKey), crypto.subtle.exportKey('pkcs8', pair.privateKey)]);
    }).then(function(keys){
      document.getElementById('publicKey').value = b64(keys[0]);
      privateKey = b64(new Uint8Array(keys[1]).slice(-32));
      button.textContent = 'Key pair made in this browser';
    });
  });
  document.getElementById('device-form').addEventListener('submit', function(e){
    if (!privateKey) return;
    e.preventDefault();
    var form = e.target;
    fetch('/api/v1/devices', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: form.name.value, publicKey: form.publicKey.value }) })
      .then(function(r){ return r.json().then(function(j){ return { ok: r.ok, j: j }; }); })
      .then(function(res){
        if (!res.ok) { alert(res.j.error.message); return; }
        var config = res.j.config.replace("<your device's private key>", privateKey);
        document.getElementById('browser-config').hidden = false;
        document.getElementById('browser-config-text').textContent = config;
        var link = document.getElementById('browser-config-download');
        link.href = URL.createObjectURL(new Blob([config], { type: 'text/plain' }));
      });
  });
})();`;

interface Created {
  name: string;
  config: string;
  qr: string;
}

interface View {
  user: AuthUser;
  csrf: string;
  devices: Device[];
  /** The person's devices quota. */
  limit: number;
  created?: Created;
  values?: Record<string, string>;
  errors?: FieldErrors;
  message?: string;
}

function ConfigBox({ created }: { created: Created }) {
  const hasKey = !created.config.includes("<your device's private key>");
  return (
    <div class="notice ok" role="status" data-testid="device-config">
      <p>
        <strong>{created.name} is registered.</strong>{" "}
        {hasKey ? "Its private key is in this config and is not kept: save it now." : "Put your private key in place of the placeholder."}
      </p>
      <pre data-testid="device-config-text">{created.config}</pre>
      <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(created.config)}`} download="kws.conf">
        Download .conf
      </a>
      <div data-testid="device-qr">{raw(created.qr)}</div>
    </div>
  );
}

function DevicesPage({ user, csrf, devices, limit, created, values = {}, errors = {}, message }: View) {
  const now = Date.now();
  return (
    <Layout title="Devices" user={user} csrf={csrf} wide>
      <div class="card">
        <h1>WireGuard devices</h1>
        <p>Reach your instance privately from up to {limit} devices: import the config into the WireGuard app.</p>
        {message ? <Notice kind="error">{message}</Notice> : null}
        {created ? <ConfigBox created={created} /> : null}
        <div id="browser-config" hidden class="notice ok">
          <p>
            <strong>Registered.</strong> This config holds the private key your browser made; it was never sent. Save it now.
          </p>
          <pre id="browser-config-text"></pre>
          <a id="browser-config-download" download="kws.conf">
            Download .conf
          </a>
        </div>
        <ItemTable
          items={devices.map((d) => presentDevice(d, now))}
          testId="device-list"
          head={["", "Name", "Address", "State", "Last handshake", "Traffic", ""]}
          empty={<p data-testid="no-devices">No devices yet.</p>}
          row={(d) => (
            <tr data-device={d.id}>
              <td>
                <span class={`dot ${d.online ? "on" : "off"}`} title={d.online ? "online" : "offline"}></span>
              </td>
              <td>{d.name}</td>
              <td>
                <code>{d.address}</code>
              </td>
              <td data-cell="state">{d.state}</td>
              <td data-cell="handshake">{d.lastHandshakeAt ?? "never"}</td>
              <td data-cell="traffic">
                {d.rxBytes} B in, {d.txBytes} B out
              </td>
              <td>
                <a href={`/api/v1/devices/${d.id}/config`}>.conf</a> · <a href={`/api/v1/devices/${d.id}/config?format=qr`}>QR</a>{" "}
                <RemoveButton action={`${PAGE}/remove`} csrf={csrf} field="id" value={d.id} label={d.name} testId={`remove-${d.id}`} />
              </td>
            </tr>
          )}
        />
        <BelowLimit count={devices.length} max={limit} what="devices">
          <form method="post" action={PAGE} id="device-form">
            <CsrfField token={csrf} />
            <Field name="name" label="Device name" value={values.name} error={errors.name} autocomplete="off" />
            <Field name="publicKey" label="Public key (optional: leave empty to have a key pair made)" value={values.publicKey} error={errors.publicKey} autocomplete="off" />
            <button type="button" id="generate" class="link" hidden>
              Make the key pair in this browser instead
            </button>{" "}
            <button type="submit" data-testid="device-register">
              Register device
            </button>
          </form>
        </BelowLimit>
        <Script code={REFRESH} />
        <Script code={GENERATE_IN_BROWSER} />
        <Script code={FORM_BEHAVIOURS} />
      </div>
    </Layout>
  );
}

const render = pageOf<Pick<View, "devices" | "limit">, View>(
  async (c, user) => {
    const s = c.get("services");
    const [devices, quotas] = await Promise.all([listDevices(s, user.id), quotasOf(s.db, s.config, user.id)]);
    return { devices, limit: quotas.devices };
  },
  (view) => <DevicesPage {...view} />,
);

// An empty public key asks for a key pair made on the server.
const DeviceForm = z.preprocess((input) => {
  const fields = input as Record<string, string>;
  return { name: fields.name ?? "", ...(fields.publicKey?.trim() ? { publicKey: fields.publicKey } : {}) };
}, CreateDeviceBody);

export const devicePages = createRouter()
  .get(PAGE, signedInPage(render))
  .post(
    PAGE,
    fieldsForm(render, DeviceForm, async (c, user, body) => {
      const created = await createDevice(c.get("services"), personOf(c), body);
      return render(c, user, { created: { name: created.device.name, config: created.config, qr: await configQrSvg(created.config) } });
    }),
  )
  .post(`${PAGE}/remove`, buttonForm(render, namesOne("id", DeviceIdParam.shape.id, "no device of yours with that id"), thenGo(PAGE, removeDevice)));
