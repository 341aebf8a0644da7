package weir.compat;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * The Java client smoke suite: one PASS / FAIL / SKIP line per check, then
 * {@code java-<version>: N passed, N failed, N skipped}; exit status 1 if a check failed.
 *
 * <pre>
 *   Smoke --bootstrap 127.0.0.1:9092 [--client-config FILE] [--only REGEX] [--ci]
 *         [--acls] [--label L] [--plain-config FILE] [--user-config FILE]
 * </pre>
 *
 * {@code --client-config} adds client properties (security.protocol, sasl.*, ssl.*) to every
 * producer, consumer and admin client. {@code --acls} runs the ACL checks (the broker must have
 * an authorizer on, with the configured principal a super user). {@code --ci} runs the quick
 * subset marked as such. With a client config, the SASL checks run too ({@link SecurityChecks}):
 * {@code --plain-config} logs in over PLAIN, {@code --user-config} is a user without ACLs.
 */
public final class Smoke {
    /** Thrown by a check that does not apply to this client version or broker. */
    static final class Skip extends RuntimeException {
        Skip(String why) {
            super(why);
        }
    }

    /** One check: a name, whether it is in the --ci subset, its watchdog, and the body. */
    record Check(String name, boolean ci, int timeoutSec, Body body) {}

    @FunctionalInterface
    interface Body {
        void run(Ctx ctx) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        String clientConfig = null;
        Pattern only = null;
        boolean ci = false;
        boolean acls = false;
        String label = null;
        String plainConfig = null;
        String userConfig = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bootstrap" -> bootstrap = args[++i];
                case "--client-config" -> clientConfig = args[++i];
                case "--only" -> only = Pattern.compile(args[++i]);
                case "--ci" -> ci = true;
                case "--acls" -> acls = true;
                case "--label" -> label = args[++i];
                case "--plain-config" -> plainConfig = args[++i];
                case "--user-config" -> userConfig = args[++i];
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }
        if (bootstrap == null) {
            System.err.println("--bootstrap HOST:PORT is required");
            System.exit(2);
        }
        Properties security = new Properties();
        if (clientConfig != null) {
            try (InputStream in = new FileInputStream(clientConfig)) {
                security.load(in);
            }
        }
        String version = clientVersion();
        if (label == null) {
            label = "java-" + version;
        }
        Ctx ctx = new Ctx(bootstrap, security, version, "jsmoke-" + UUID.randomUUID().toString().substring(0, 8));
        out("# kafka-clients " + version + ", bootstrap " + bootstrap
                + ", security.protocol " + security.getProperty("security.protocol", "PLAINTEXT")
                + ", run id " + ctx.run);

        List<Check> checks = new ArrayList<>();
        AdminChecks.register(checks, acls);
        ProducerChecks.register(checks);
        TxnChecks.register(checks);
        ConsumerChecks.register(checks);
        EdgeChecks.register(checks);
        if (clientConfig != null) {
            SecurityChecks.register(checks, plainConfig, userConfig, acls);
        }

        int pass = 0;
        int fail = 0;
        int skip = 0;
        boolean verbose = System.getenv("SMOKE_VERBOSE") != null;
        for (Check c : checks) {
            if (ci && !c.ci()) {
                continue;
            }
            if (only != null && !only.matcher(c.name()).find()) {
                continue;
            }
            long t0 = System.nanoTime();
            String outcome;
            String detail = "";
            ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "check-" + c.name());
                t.setDaemon(true);
                return t;
            });
            try {
                Future<?> f = ex.submit(() -> {
                    c.body().run(ctx);
                    return null;
                });
                f.get(c.timeoutSec(), TimeUnit.SECONDS);
                outcome = "PASS";
            } catch (TimeoutException e) {
                outcome = "FAIL";
                detail = "timed out after " + c.timeoutSec() + "s";
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof Skip) {
                    outcome = "SKIP";
                    detail = cause.getMessage();
                } else {
                    outcome = "FAIL";
                    detail = describe(cause);
                    if (verbose) {
                        StringWriter sw = new StringWriter();
                        cause.printStackTrace(new PrintWriter(sw));
                        System.err.println(sw);
                    }
                }
            } finally {
                // A timed-out check's clients are closed by its own finally blocks once the
                // interrupt reaches them; the daemon thread never blocks the exit.
                ex.shutdownNow();
                ctx.closeLeftovers();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            switch (outcome) {
                case "PASS" -> {
                    pass++;
                    out(String.format("PASS %s: %s (%.1fs)", label, c.name(), secs));
                }
                case "SKIP" -> {
                    skip++;
                    out(String.format("SKIP %s: %s: %s", label, c.name(), detail));
                }
                default -> {
                    fail++;
                    out(String.format("FAIL %s: %s: %s (%.1fs)", label, c.name(), detail, secs));
                }
            }
        }
        out(String.format("%s: %d passed, %d failed, %d skipped", label, pass, fail, skip));
        System.out.flush();
        // Halt rather than exit: a client thread stuck in a retry loop must not keep the JVM up.
        Runtime.getRuntime().halt(fail == 0 ? 0 : 1);
    }

    /** kafka-clients' version, from the properties file in its jar (AppInfoParser moved in 4.4). */
    static String clientVersion() throws IOException {
        Properties p = new Properties();
        try (InputStream in = Smoke.class.getClassLoader().getResourceAsStream("kafka/kafka-version.properties")) {
            if (in == null) {
                return "unknown";
            }
            p.load(in);
        }
        return p.getProperty("version", "unknown");
    }

    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Throwable cur = t;
        int depth = 0;
        while (cur != null && depth < 4) {
            if (depth > 0) {
                sb.append(" <- ");
            }
            sb.append(cur.getClass().getSimpleName());
            if (cur.getMessage() != null) {
                sb.append(": ").append(cur.getMessage().replace('\n', ' '));
            }
            if (cur.getCause() == cur) {
                break;
            }
            cur = cur.getCause();
            depth++;
        }
        return sb.toString();
    }

    static void out(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** Loads a properties file; used by the checks that need a second identity. */
    static Properties load(String path) throws IOException {
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(path)) {
            p.load(in);
        }
        return p;
    }

    private Smoke() {}
}
