/**
 * The live page at `/` (served by kstream itself, no build step): start a stream with an API key, send records,
 * watch the pipeline's results arrive over SSE, and the gateway's rates and ack latency from its /metrics.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kstream serve</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; } code, pre, textarea, input { font: 13px ui-monospace, monospace; }
  fieldset { border: 1px solid #ccc; margin: 0 0 1rem; } label { display: block; margin: .3rem 0; }
  input[type=password], input[type=text] { width: 28rem; } textarea { width: 100%; height: 4rem; }
  #results { height: 18rem; overflow: auto; background: #f6f6f6; border: 1px solid #ddd; padding: .5rem; margin: 0; }
  #stats span { display: inline-block; min-width: 11rem; } .err { color: #b00; }
</style>
</head>
<body>
<h1>kstream serve</h1>
<p>Start a stream, send JSON records to it, and see them come back through the gateway's pipeline.</p>
<fieldset>
  <label>API key <input id="key" type="password" autocomplete="off"></label>
  <button id="start">Start a stream</button> <code id="stream">no stream</code>
</fieldset>
<fieldset>
  <label>Record (JSON, or NDJSON lines)<textarea id="record">{"ok": true, "msg": "hello"}</textarea></label>
  <button id="send" disabled>Send</button> <span id="status"></span>
</fieldset>
<div id="stats"><span>results: <b id="n">0</b></span><span>send → result: <b id="lat">–</b></span><span>records sent/s: <b id="rate">–</b></span><span>mean ack: <b id="ack">–</b></span></div>
<pre id="results"></pre>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  let stream, source, n = 0;
  const sentAt = [];
  const status = (text, bad) => { $('status').textContent = text; $('status').className = bad ? 'err' : ''; };
  const headers = () => ({ authorization: 'Bearer ' + $('key').value });
  async function call(method, path, body) {
    const res = await fetch(path, { method, headers: { ...headers(), 'content-type': 'application/json' }, body });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(res.status + ': ' + (json.error || res.statusText));
    return json;
  }
  $('start').onclick = async () => {
    try {
      if (source) source.close();
      stream = await call('POST', '/stream/start');
      $('stream').textContent = stream.stream_id;
      source = new EventSource(stream.results_url + '?access_token=' + encodeURIComponent($('key').value));
      source.onmessage = (e) => {
        n++;
        $('n').textContent = n;
        const t = sentAt.shift();
        if (t !== undefined) $('lat').textContent = (performance.now() - t).toFixed(1) + ' ms';
        const line = document.createElement('div');
        line.className = 'result';
        line.textContent = e.lastEventId + '  ' + e.data;
        $('results').prepend(line);
      };
      source.onopen = () => { $('send').disabled = false; status('connected'); };
      source.onerror = () => status('results: reconnecting…', true);
    } catch (e) { status(e.message, true); }
  };
  $('send').onclick = async () => {
    try {
      const text = $('record').value;
      // the send times are queued before the request: a result can come back over SSE before the 202 does
      let n;
      try { JSON.parse(text); n = 1; } catch { n = text.split('\\n').filter((l) => l.trim()).length; }
      const t = performance.now();
      for (let i = 0; i < n; i++) sentAt.push(t);
      let r;
      try { r = await call('POST', stream.send_url, text); } catch (e) { sentAt.length = Math.max(0, sentAt.length - n); throw e; }
      status('accepted ' + r.accepted + ' in ' + (performance.now() - t).toFixed(1) + ' ms');
    } catch (e) { status(e.message, true); }
  };
  let last;
  async function metrics() {
    try {
      const text = await (await fetch('/metrics')).text();
      const v = (name) => text.split('\\n').filter((l) => l.startsWith(name)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      const sent = v('kstream_gateway_records_sent_total'), sum = v('kstream_gateway_ack_seconds_sum'), cnt = v('kstream_gateway_ack_seconds_count');
      const now = performance.now();
      if (last) $('rate').textContent = ((sent - last.sent) / ((now - last.t) / 1000)).toFixed(1);
      if (cnt) $('ack').textContent = (1000 * sum / cnt).toFixed(1) + ' ms';
      last = { sent, t: now };
    } catch { /* the gateway went away: the page keeps its last figures */ }
  }
  setInterval(metrics, 2000);
  metrics();
})();
</script>
</body>
</html>
`;
