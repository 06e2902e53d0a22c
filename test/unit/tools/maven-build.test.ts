import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mavenLauncherBuild, requireLauncherJar } from '../../../tools/launchers/maven-build';

// Stands in for Maven: records each run (with the JAVA_HOME it got), fails if a second run
// starts in the same folder while one is under way, and leaves a jar and target/lib behind.
const FAKE_MVN = `#!/bin/sh
if ! mkdir running 2>/dev/null; then echo "two builds at once" >&2; exit 3; fi
echo "\${JAVA_HOME:-none} $*" >> runs.log
sleep 0.3
if [ -f fail ]; then echo "[ERROR] Failed to execute goal compile"; rmdir running; exit 1; fi
mkdir -p target/lib
touch target/launcher.jar
rmdir running
`;

describe('maven launcher build', () => {
  const savedMvn = process.env.MVN;
  let toolDir: string;
  let jar: string;

  beforeEach(() => {
    toolDir = mkdtempSync(path.join(os.tmpdir(), 'taxi-maven-unit-'));
    jar = path.join(toolDir, 'target', 'launcher.jar');
    mkdirSync(path.join(toolDir, 'src', 'main', 'java'), { recursive: true });
    writeFileSync(path.join(toolDir, 'pom.xml'), '<project/>');
    writeFileSync(path.join(toolDir, 'src', 'main', 'java', 'Main.java'), 'class Main {}');
    const mvn = path.join(toolDir, 'fake-mvn.sh');
    writeFileSync(mvn, FAKE_MVN);
    chmodSync(mvn, 0o755);
    process.env.MVN = mvn;
  });
  afterEach(() => {
    if (savedMvn === undefined) delete process.env.MVN;
    else process.env.MVN = savedMvn;
    rmSync(toolDir, { recursive: true, force: true });
  });

  const runs = (): string[] => {
    const log = path.join(toolDir, 'runs.log');
    return existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n') : [];
  };
  // Every build takes 0.3 s after its stamp's time, so "now" is later than the last stamp.
  const edit = (file: string): void => {
    const now = new Date();
    utimesSync(file, now, now);
  };

  it('builds once with the given JAVA_HOME, then not again until a source changes', async () => {
    const build = mavenLauncherBuild({ toolDir, jar, javaHome: () => '/opt/jdk-17' });
    await build();
    expect(runs()).toEqual(['/opt/jdk-17 -B -q -Dstyle.color=never package']);
    await build();
    expect(runs()).toHaveLength(1);

    edit(path.join(toolDir, 'src', 'main', 'java', 'Main.java'));
    await build();
    expect(runs()).toHaveLength(2);
    edit(path.join(toolDir, 'pom.xml'));
    await build();
    await build();
    expect(runs()).toHaveLength(3);
    // A deleted source leaves no file to be newer; its folder's mtime says it.
    rmSync(path.join(toolDir, 'src', 'main', 'java', 'Main.java'));
    await build();
    expect(runs()).toHaveLength(4);
  });

  it('rebuilds when an output the launcher needs is missing, and runs afterBuild after each Maven run', async () => {
    let complete = true;
    const order: string[] = [];
    const build = mavenLauncherBuild({
      toolDir,
      jar,
      outputsComplete: () => complete,
      afterBuild: () => order.push(`afterBuild after ${runs().length} run(s)`),
    });
    await build();
    complete = false;
    await build();
    expect(runs()).toHaveLength(2);
    expect(order).toEqual(['afterBuild after 1 run(s)', 'afterBuild after 2 run(s)']);
  });

  it('lets two builders of one folder (two processes, say) run Maven one at a time, and only once', async () => {
    const first = mavenLauncherBuild({ toolDir, jar });
    const second = mavenLauncherBuild({ toolDir, jar });
    await expect(Promise.all([first(), second(), first()])).resolves.toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(runs()).toHaveLength(1);
  });

  it('waits for a held lock and takes over one left behind by a killed build', async () => {
    const lock = path.join(toolDir, 'target', '.taxi-stream-build-lock');
    mkdirSync(lock, { recursive: true });
    const waiting = mavenLauncherBuild({ toolDir, jar })();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(runs()).toHaveLength(0);
    rmSync(lock, { recursive: true });
    await waiting;
    expect(runs()).toHaveLength(1);

    edit(path.join(toolDir, 'pom.xml'));
    mkdirSync(lock);
    const longAgo = new Date(Date.now() - 16 * 60_000);
    utimesSync(lock, longAgo, longAgo);
    await mavenLauncherBuild({ toolDir, jar })();
    expect(runs()).toHaveLength(2);
    expect(existsSync(lock)).toBe(false);
  });

  it("fails with the end of Maven's output and tries again on the next call", async () => {
    writeFileSync(path.join(toolDir, 'fail'), '');
    const build = mavenLauncherBuild({ toolDir, jar });
    await expect(build()).rejects.toThrow(
      `mvn package in ${toolDir} failed (exit 1):\n[ERROR] Failed to execute goal compile`,
    );
    rmSync(path.join(toolDir, 'fail'));
    await build();
    expect(runs()).toHaveLength(2);
  });

  it('names the build function when the jar is missing', () => {
    expect(() => requireLauncherJar(jar, 'buildThingLauncher')).toThrow(
      `${jar} is missing: call buildThingLauncher() first`,
    );
  });
});
