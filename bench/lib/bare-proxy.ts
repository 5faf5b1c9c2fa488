// The least any extra process between client and backends costs on this machine: a
// bare Node HTTP proxy that pipes bytes and does nothing else — no authentication, no
// metadata, no checksums. GET goes to one backend (rotating), PUT is piped to every
// backend in parallel and answered once all have answered. It forwards the client's
// headers as they are (s3rver does not verify signatures). Run as a child process:
//   node bench/lib/bare-proxy.ts <port> <backend endpoint>...
// and it prints "ready" once listening.
import http from 'node:http';

const [portArg, ...targets] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let next = 0;

function forward(target: string, req: http.IncomingMessage): http.ClientRequest {
  const url = new URL(target);
  return http.request({ hostname: url.hostname, port: url.port, method: req.method, path: req.url, headers: { ...req.headers, host: url.host }, agent });
}

const server = http.createServer((req, res) => {
  const fail = (err: Error) => {
    if (!res.headersSent) res.writeHead(502).end(err.message);
    else res.destroy(err);
  };
  if (req.method === 'PUT') {
    const outs = targets.map((t) => forward(t, req));
    const answers = outs.map(
      (out) =>
        new Promise<http.IncomingMessage>((resolve, reject) => {
          out.on('response', (r) => {
            r.resume();
            r.on('end', () => resolve(r));
          });
          out.on('error', reject);
        }),
    );
    for (const out of outs) req.pipe(out);
    Promise.all(answers).then(([first]) => res.writeHead(first.statusCode ?? 502, { etag: first.headers.etag ?? '' }).end(), fail);
    return;
  }
  const out = forward(targets[next++ % targets.length], req);
  out.on('response', (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  out.on('error', fail);
  req.pipe(out);
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write('ready\n'));
