package memscale;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * A Nexmark query as Flink SQL over a rate-limited Nexmark source, written to
 * a blackhole sink. memscale submits it through Flink's REST API:
 *
 * <pre>
 *   --sql TEXT            the query (a SELECT over person, auction and bid)
 *   --name NAME           the job's name
 *   --rate R              events per second (the source's limit and event-time rate)
 *   --base-time MS        event time of event 0, ms since the epoch
 *   --events N            events in all (0: unbounded)
 *   --in-flight-auctions N, --active-people N, --hot-auction-ratio N,
 *   --hot-bidder-ratio N, --hot-seller-ratio N   the generator's parameters
 *   --rocksdb-memory-per-slot BYTES   RocksDB memory (block cache and write
 *                                     buffers) of every slot
 *   --max-parallelism N   key groups
 * </pre>
 *
 * The source is a DataGeneratorSource over event numbers: its position is in
 * every checkpoint and savepoint, so a job resubmitted from a savepoint goes
 * on with the next event.
 */
public final class NexmarkJob {
    private NexmarkJob() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        String sql = required(args, "sql");
        double rate = Double.parseDouble(required(args, "rate"));
        long baseTime = Long.parseLong(required(args, "base-time"));
        long events = Long.parseLong(args.getOrDefault("events", "0"));

        Configuration conf = new Configuration();
        conf.setString("pipeline.name", args.getOrDefault("name", "memscale nexmark"));
        conf.setString("state.backend.type", "rocksdb");
        conf.setString("pipeline.max-parallelism", args.getOrDefault("max-parallelism", "128"));
        if (args.containsKey("rocksdb-memory-per-slot")) {
            conf.setString("state.backend.rocksdb.memory.fixed-per-slot", args.get("rocksdb-memory-per-slot") + "b");
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
        tEnv.getConfig().set("table.local-time-zone", "UTC");

        NexmarkGenerator generator = new NexmarkGenerator(
                baseTime,
                rate,
                Long.parseLong(args.getOrDefault("in-flight-auctions", "100")),
                Long.parseLong(args.getOrDefault("active-people", "1000")),
                Integer.parseInt(args.getOrDefault("hot-auction-ratio", "2")),
                Integer.parseInt(args.getOrDefault("hot-bidder-ratio", "4")),
                Integer.parseInt(args.getOrDefault("hot-seller-ratio", "4")));
        DataGeneratorSource<Row> source = new DataGeneratorSource<>(
                generator,
                events > 0 ? events : Long.MAX_VALUE,
                RateLimiterStrategy.perSecond(rate),
                NexmarkGenerator.rowType());
        DataStream<Row> stream = env.fromSource(source, WatermarkStrategy.noWatermarks(), "nexmark")
                .uid("memscale-nexmark-source")
                .setParallelism(1);
        tEnv.createTemporaryView(
                "events",
                stream,
                NexmarkGenerator.schema());
        tEnv.executeSql("CREATE TEMPORARY VIEW person AS SELECT p_id AS id, p_name AS name, "
                + "p_emailAddress AS emailAddress, p_creditCard AS creditCard, p_city AS city, "
                + "p_state AS state, `dateTime`, p_extra AS extra FROM events WHERE event_type = 0");
        tEnv.executeSql("CREATE TEMPORARY VIEW auction AS SELECT a_id AS id, a_itemName AS itemName, "
                + "a_description AS description, a_initialBid AS initialBid, a_reserve AS reserve, "
                + "`dateTime`, a_expires AS expires, a_seller AS seller, a_category AS category, "
                + "a_extra AS extra FROM events WHERE event_type = 1");
        tEnv.executeSql("CREATE TEMPORARY VIEW bid AS SELECT b_auction AS auction, b_bidder AS bidder, "
                + "b_price AS price, b_channel AS channel, b_url AS url, `dateTime`, b_extra AS extra "
                + "FROM events WHERE event_type = 2");
        // q13's side input, as the suite's side_input_gen.sh writes it: keys
        // 0 to 9,999, each with its own decimal as value (a bounded table
        // here, so that nothing but the jar has to reach the cluster).
        tEnv.executeSql("CREATE TEMPORARY TABLE side_input (`key` BIGINT, `value` AS CAST(`key` AS STRING)) "
                + "WITH ('connector' = 'datagen', 'fields.key.kind' = 'sequence', "
                + "'fields.key.start' = '0', 'fields.key.end' = '9999')");

        Table result = tEnv.sqlQuery(sql);
        result.executeInsert(TableDescriptor.forConnector("blackhole")
                .schema(Schema.newBuilder().fromResolvedSchema(result.getResolvedSchema()).build())
                .build());
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --name value pairs, got `" + argv[i] + "`");
            }
            args.put(argv[i].substring(2), argv[++i]);
        }
        return args;
    }

    private static String required(Map<String, String> args, String name) {
        String v = args.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }
}
