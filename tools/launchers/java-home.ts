/** Which JDK runs a launcher (and builds it: Maven gets the same JAVA_HOME). */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The JVMs here are tested on Java 17; a newer default JDK on PATH is not assumed to work. */
export const JAVA_17_HOMES: readonly string[] = [
  '/usr/lib/jvm/java-17-openjdk-amd64',
  '/usr/lib/jvm/temurin-17-jdk-amd64',
];

/** The first of `candidates` that holds bin/java, or undefined to use `java` on PATH. */
export function findJavaHome(candidates: readonly (string | undefined)[]): string | undefined {
  return candidates.find(
    (home): home is string => home !== undefined && home !== '' && existsSync(path.join(home, 'bin', 'java')),
  );
}

/** The java binary of `home`, or `java` on PATH when there is no home. */
export function javaBinary(home: string | undefined): string {
  return home === undefined || home === '' ? 'java' : path.join(home, 'bin', 'java');
}
