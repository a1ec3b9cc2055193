// Runs DynamoDB Local bound to 127.0.0.1 only (tools/real_servers.py starts it).
//
// DynamoDB Local's own launcher listens on every interface and has no option to choose
// one. This launcher builds the same server from the same command-line arguments, sets
// the host of its HTTP connector to loopback before starting it, and then waits on it.
// Run as a single-file source program: java -cp DynamoDBLocal.jar LoopbackDynamoDB.java ARGS
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDB {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // the Jetty server is a private field: there is no accessor for it
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("no HTTP connector to bind to loopback");
        }
        proxy.start();
        proxy.join();
    }
}
