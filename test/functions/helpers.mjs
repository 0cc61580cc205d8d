// Drives one aggregate function object the way the aggregate stage does: init, add with (t, q), result.
export function feed(fn, values, param, { times } = {}) {
  let s = fn.init();
  values.forEach((v, i) => (s = fn.add(s, v, times ? times[i] : i, i)));
  return { s, result: fn.result(s, param) };
}

/** What `parse` gives for a call written as in `aggregate` (`avg(r.ms)`). */
export function call(fn, text, param) {
  const m = /^([\w.]+)(?:\((.*)\))?$/.exec(text);
  const args = m[2] === undefined ? [] : m[2].split(',').map((a) => a.trim());
  return fn.parse({ fn: m[1], args, text }, param);
}
