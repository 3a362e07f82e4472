// Many commands in one build container without a `docker exec` each. A
// `docker exec` costs about 0.15-0.2 s of client start, API calls and runc
// before the command runs; a build runs about a hundred short ones (stat,
// mkdir, writing a file). The agent is one `docker exec -i <container> perl`
// that runs each command it is sent as its own child process, with the
// environment, stdin, stdout, stderr and exit code `docker exec` would give
// it, and sends the output back in frames. Perl because it is the one
// interpreter every Debian system has (perl-base is essential); the script
// uses only its built-ins and POSIX.
//
// Request (to the agent): u32 argc, argc × (u32 length, bytes), u32 envc,
// envc × (u32 length, bytes "NAME=value"), u8 1 then (u32 length, bytes) for
// stdin, or u8 0 (stdin is /dev/null). Frames (from the agent): u8 type, u32
// length, bytes: 0 ready (once, at start), 1 stdout, 2 stderr, 3 exit code
// (u32: the command's, 128+n for signal n, 127 when it cannot be run).
// Integers are big-endian.
import { StepError } from '../errors.js';
import { type DuplexRun, lineSplitter, quoteForDisplay, type RunResult, traceCommand } from '../exec.js';
import type { StepOptions } from './runner.js';

/** The agent, run as `perl -e`: reads requests on stdin until it ends, one command at a time. */
export const AGENT_SCRIPT = String.raw`
use strict;
use warnings;
use POSIX ();
use Fcntl ();
$SIG{PIPE} = 'IGNORE';
binmode STDIN;
binmode STDOUT;
my $in = '';
sub rd {
  my ($n) = @_;
  while (length($in) < $n) {
    my $r = sysread(STDIN, $in, 65536, length $in);
    if (!defined $r) { next if $! == POSIX::EINTR(); die "g3 exec agent: reading requests: $!\n" }
    POSIX::_exit(0) if $r == 0;
  }
  return substr($in, 0, $n, '');
}
sub u32 { return unpack('N', rd(4)) }
sub bytes { my $n = u32(); return $n ? rd($n) : '' }
sub frame {
  my ($type, $data) = @_;
  my $m = pack('CN', $type, length $data) . $data;
  while (length $m) {
    my $w = syswrite(STDOUT, $m);
    if (!defined $w) { next if $! == POSIX::EINTR(); POSIX::_exit(1) }
    substr($m, 0, $w, '');
  }
}
sub start {
  my ($argv, $env, $input) = @_;
  my ($or, $ow, $er, $ew, $ir, $iw);
  pipe($or, $ow) && pipe($er, $ew) && (!defined $input || pipe($ir, $iw)) or return (undef, "pipe: $!");
  my $pid = fork;
  return (undef, "fork: $!") unless defined $pid;
  if ($pid == 0) {
    $SIG{PIPE} = 'DEFAULT';
    my $stdin = $ir;
    open($stdin, '<', '/dev/null') or POSIX::_exit(126) unless defined $input;
    POSIX::dup2(fileno $stdin, 0) // POSIX::_exit(126);
    POSIX::dup2(fileno $ow, 1) // POSIX::_exit(126);
    POSIX::dup2(fileno $ew, 2) // POSIX::_exit(126);
    for my $kv (@$env) { my ($k, $v) = split /=/, $kv, 2; $ENV{$k} = $v }
    { no warnings 'exec'; exec { $argv->[0] } @$argv }
    my $errno = $! + 0;
    syswrite(STDERR, "g3 exec agent: cannot run $argv->[0]: $!\n");
    POSIX::_exit($errno == POSIX::ENOENT() ? 127 : 126);
  }
  close $ow;
  close $ew;
  close $ir if defined $ir;
  return ($pid, $or, $er, $iw);
}
sub serve {
  my ($argv, $env, $input) = @_;
  my ($pid, $or, $er, $iw) = start($argv, $env, $input);
  if (!defined $pid) { frame(2, "g3 exec agent: $or\n"); frame(3, pack('N', 126)); return }
  my %open = (fileno($or) => [$or, 1], fileno($er) => [$er, 2]);
  my $pending = defined $input ? $input : '';
  if (defined $iw && !length $pending) { close $iw; undef $iw }
  # Written without blocking, so the command's output is read while its input is still going in.
  fcntl($iw, Fcntl::F_SETFL(), fcntl($iw, Fcntl::F_GETFL(), 0) | Fcntl::O_NONBLOCK()) if defined $iw;
  while (%open || defined $iw) {
    my $rin = '';
    vec($rin, $_, 1) = 1 for keys %open;
    my $win = '';
    vec($win, fileno($iw), 1) = 1 if defined $iw;
    my ($rout, $wout) = ($rin, $win);
    my $n = select($rout, $wout, undef, undef);
    if ($n < 0) { next if $! == POSIX::EINTR(); die "g3 exec agent: select: $!\n" }
    if (defined $iw && vec($wout, fileno($iw), 1)) {
      my $w = syswrite($iw, $pending, 65536);
      if (defined $w) { substr($pending, 0, $w, '') }
      elsif ($! != POSIX::EINTR() && $! != POSIX::EAGAIN()) { $pending = '' }
      if (!length $pending) { close $iw; undef $iw }
    }
    for my $fd (keys %open) {
      next unless vec($rout, $fd, 1);
      my ($fh, $type) = @{ $open{$fd} };
      my $r = sysread($fh, my $buf, 65536);
      if (!defined $r) { next if $! == POSIX::EINTR() || $! == POSIX::EAGAIN(); $r = 0 }
      if ($r == 0) { close $fh; delete $open{$fd} }
      else { frame($type, $buf) }
    }
  }
  while (waitpid($pid, 0) < 0) { last unless $! == POSIX::EINTR() }
  my $st = $?;
  frame(3, pack('N', ($st & 127) ? 128 + ($st & 127) : $st >> 8));
}
frame(0, 'g3 exec agent 1');
while (1) {
  my @argv = map { bytes() } 1 .. u32();
  my @env = map { bytes() } 1 .. u32();
  my $input = rd(1) eq "\x01" ? bytes() : undef;
  serve(\@argv, \@env, $input);
}
`;

/** One request, as the agent reads it. */
export function encodeRequest(argv: string[], env: Record<string, string> = {}, input?: string | Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    parts.push(b);
  };
  const bytes = (v: string | Uint8Array) => {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    u32(b.length);
    parts.push(b);
  };
  u32(argv.length);
  for (const a of argv) bytes(a);
  const pairs = Object.entries(env);
  u32(pairs.length);
  for (const [k, v] of pairs) bytes(`${k}=${v}`);
  parts.push(Buffer.from([input === undefined ? 0 : 1]));
  if (input !== undefined) bytes(input);
  return Buffer.concat(parts);
}

export interface Frame {
  type: number;
  data: Buffer;
}

/** Cuts the agent's output into frames, whatever the chunks it arrives in. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= 5) {
      const length = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + length) break;
      frames.push({ type: this.buf[0] as number, data: this.buf.subarray(5, 5 + length) });
      this.buf = this.buf.subarray(5 + length);
    }
    return frames;
  }
  /** Bytes of a frame not yet complete. */
  get partial(): number {
    return this.buf.length;
  }
}

/** What execa's stripFinalNewline does to the output `docker exec` gives back: one final newline (\n or \r\n) goes. */
export function withoutFinalNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** The agent could not be started (no perl in the image, the container is gone): the command was not run. */
export class AgentUnavailable extends Error {}

interface Pending {
  argv: string[];
  opts: StepOptions;
  stdout: Buffer[];
  stderr: Buffer[];
  lines?: [ReturnType<typeof lineSplitter>, ReturnType<typeof lineSplitter>];
  started: number;
  resolve(r: RunResult): void;
  reject(err: Error): void;
}

/** One running agent: one command at a time. */
export class ExecAgent {
  private readonly frames = new FrameReader();
  private ready = false;
  private ended = false;
  private pending: Pending | undefined;
  /** The request of the pending command while the agent has not said it is ready. */
  private queued: Buffer | undefined;

  constructor(
    private readonly proc: DuplexRun,
    /** Names the agent in messages: `container g3-composer-1a2b`. */
    private readonly where: string,
  ) {
    // A write after the agent ended fails; that failure is reported through the pending command instead.
    proc.stdin.on('error', () => undefined);
    // How it ended is read when a command was running; otherwise it is not news.
    proc.done.catch(() => undefined);
    void this.read();
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Run one command; the agent must not be busy. A non-zero exit is returned, not thrown. */
  run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    if (this.ended) return Promise.reject(new AgentUnavailable(`the exec agent in ${this.where} has ended`));
    if (this.pending) return Promise.reject(new Error('the exec agent is busy'));
    return new Promise<RunResult>((resolve, reject) => {
      const lines = opts.onLine ? ([lineSplitter(opts.onLine), lineSplitter(opts.onLine)] as Pending['lines']) : undefined;
      this.pending = { argv, opts, stdout: [], stderr: [], lines, started: performance.now(), resolve, reject };
      const request = encodeRequest(argv, opts.env, opts.input);
      if (this.ready) this.proc.stdin.write(request);
      else this.queued = request;
    });
  }

  /** End the agent: it exits when its stdin ends. */
  close(): void {
    if (!this.ended) this.proc.stdin.end();
  }

  private async read(): Promise<void> {
    let failure: unknown;
    try {
      for await (const chunk of this.proc.stdout) for (const f of this.frames.push(chunk)) this.onFrame(f);
    } catch (err) {
      failure = err;
    }
    this.ended = true;
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const r = await this.proc.done.catch((err: unknown) => ({ exitCode: -1, stdout: '', stderr: String((err as Error).message ?? err) }));
    const why = `exit code ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}${failure ? ` (${(failure as Error).message})` : ''}`;
    // Before the ready frame the command was never sent: the caller may run it another way.
    if (!this.ready) p.reject(new AgentUnavailable(`the exec agent in ${this.where} did not start (${why})`));
    else
      p.reject(new StepError(`the exec agent in ${this.where} ended while running ${p.argv.join(' ')} (${why})`, { exitCode: r.exitCode, stderr: r.stderr }));
  }

  private onFrame(f: Frame): void {
    if (f.type === 0) {
      this.ready = true;
      if (this.queued) this.proc.stdin.write(this.queued);
      this.queued = undefined;
      return;
    }
    const p = this.pending;
    if (!p) return;
    if (f.type === 1 || f.type === 2) {
      (f.type === 1 ? p.stdout : p.stderr).push(Buffer.from(f.data));
      p.lines?.[f.type - 1]?.push(f.data);
      return;
    }
    if (f.type !== 3) return;
    this.pending = undefined;
    for (const l of p.lines ?? []) l.end();
    const exitCode = f.data.readUInt32BE(0);
    const seconds = ((performance.now() - p.started) / 1000).toFixed(2);
    traceCommand(`$ [exec agent, ${this.where}] ${p.argv.map(quoteForDisplay).join(' ')}  (${seconds} s, exit ${exitCode})`);
    p.resolve({
      exitCode,
      stdout: withoutFinalNewline(Buffer.concat(p.stdout).toString('utf8')),
      stderr: withoutFinalNewline(Buffer.concat(p.stderr).toString('utf8')),
    });
  }
}

/** How many exec agents a container gets at most (steps beside busy ones start another). */
export const AGENTS_AT_MOST = 4;

/**
 * Agents for one container: an idle one runs the command, else a new one is
 * started (up to `max` at once); past that, or once an agent could not be
 * started, a command runs through `fallback` (a plain `docker exec`).
 * Results come back as `docker exec` gives them; a non-zero exit is not thrown.
 */
export class ExecAgents {
  private readonly agents: ExecAgent[] = [];
  private unavailable: string | undefined;

  constructor(
    private readonly o: {
      start: () => DuplexRun;
      where: string;
      fallback: (argv: string[], opts: StepOptions) => Promise<RunResult>;
      /** Told once, when commands start going through `fallback` because no agent can run. */
      onUnavailable?: (why: string) => void;
      max?: number;
    },
  ) {}

  async run(argv: string[], opts: StepOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new Error('empty command');
    const agent = this.unavailable === undefined ? this.idle() : undefined;
    if (!agent) return this.o.fallback(argv, opts);
    try {
      return await agent.run(argv, opts);
    } catch (err) {
      if (!(err instanceof AgentUnavailable)) throw err;
      this.drop(agent);
      if (this.unavailable === undefined) {
        this.unavailable = err.message;
        this.o.onUnavailable?.(err.message);
      }
      return this.o.fallback(argv, opts);
    } finally {
      if (!agent.alive) this.drop(agent);
    }
  }

  /** End every agent (each exits when its stdin ends). */
  close(): void {
    for (const a of this.agents.splice(0)) a.close();
  }

  private idle(): ExecAgent | undefined {
    const free = this.agents.find((a) => !a.busy && a.alive);
    if (free) return free;
    if (this.agents.length >= (this.o.max ?? AGENTS_AT_MOST)) return undefined;
    const agent = new ExecAgent(this.o.start(), this.o.where);
    this.agents.push(agent);
    return agent;
  }

  private drop(agent: ExecAgent): void {
    const i = this.agents.indexOf(agent);
    if (i >= 0) this.agents.splice(i, 1);
  }
}
