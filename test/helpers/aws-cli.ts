// Run the real aws cli (v1 from PATH, v2 at /usr/bin/aws when installed).
import { execFile } from 'node:child_process';
import fs from 'node:fs';

export interface AwsCli {
  label: string;
  bin: string;
}

export function availableAwsClis(): AwsCli[] {
  const out: AwsCli[] = [];
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && fs.existsSync(`${dir}/aws`)) {
      out.push({ label: 'aws cli (PATH)', bin: `${dir}/aws` });
      break;
    }
  }
  if (fs.existsSync('/usr/bin/aws') && out[0]?.bin !== '/usr/bin/aws') out.push({ label: 'aws cli (/usr/bin)', bin: '/usr/bin/aws' });
  return out;
}

export function runAws(cli: AwsCli, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cli.bin, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
