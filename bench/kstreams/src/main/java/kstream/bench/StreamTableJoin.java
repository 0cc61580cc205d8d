package kstream.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams side of `bench/kstreams.mjs --job join`: a stream–table (left) join against a GlobalKTable, the
 * counterpart of kstream's {@code consume <in> + join global:<table> --on r.user --as profile --left + produce <out>}.
 * Each input record (a JSON object) goes out as the same object with a member {@code profile}: the table row whose key
 * is the record's {@code user} (the row's JSON value), or null when the table has none. Output key and timestamp are
 * the stream record's (Kafka Streams' default).
 *
 * <pre>
 *   java -cp 'target/windowed-count.jar:target/lib/*' kstream.bench.StreamTableJoin \
 *     --brokers 127.0.0.1:9092 --input clicks --table users --output enriched --application-id stj-1 \
 *     [--values text|tree] [--exactly-once] [--state-dir DIR] [--stop-after N]
 * </pre>
 *
 * --values text (default): values stay text. The source extracts {@code user} with Jackson's streaming parser (it
 * stops at that member), the table keeps each row as its JSON text, and the joiner splices {@code ,"profile":<row>}
 * before the record's closing brace — what kstream's join does too, and the cheapest way in Java. --values tree: the
 * idiomatic Jackson version (JsonNode values on both sides, {@code ObjectNode.set("profile", row)}, serialised back).
 *
 * Everything else is Kafka Streams' defaults: at_least_once (--exactly-once: exactly_once_v2), one stream thread, a RocksDB global store restored from
 * the table topic (to its end offsets, before the stream thread starts), commit interval 30 s.
 */
public final class StreamTableJoin {
  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonFactory FACTORY = JSON.getFactory();

  /** Records the joiner has taken in; once it reaches --stop-after the app closes (flushing and committing). */
  static final LongAdder JOINED = new LongAdder();
  /** When the joiner first ran (System.nanoTime()), 0 before: startup and the table's restore end there. */
  static final AtomicLong FIRST = new AtomicLong();

  static void joined() {
    if (FIRST.get() == 0) FIRST.compareAndSet(0, System.nanoTime());
    JOINED.increment();
  }

  /** A stream value as text, with the join key read out of it once, when it is deserialised. */
  record Click(String text, String user) {}

  /**
   * The top-level member {@code user} as text (a number as written, as kstream's {@code String(r.user)} does for
   * integers), or null when absent, null or not a scalar. Stops reading at that member.
   */
  static String userOf(byte[] bytes) throws IOException {
    try (JsonParser p = FACTORY.createParser(bytes)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        boolean wanted = "user".equals(p.currentName());
        JsonToken v = p.nextToken();
        if (wanted) return v.isScalarValue() && v != JsonToken.VALUE_NULL ? p.getText() : null;
        p.skipChildren();
      }
      return null;
    }
  }

  static final Serde<Click> CLICK_TEXT = Serdes.serdeFrom(
      (topic, c) -> c == null ? null : c.text().getBytes(StandardCharsets.UTF_8),
      (topic, bytes) -> {
        if (bytes == null) return null;
        try {
          return new Click(new String(bytes, StandardCharsets.UTF_8), userOf(bytes));
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      });

  static final Serde<JsonNode> TREE = Serdes.serdeFrom(
      (topic, n) -> {
        try {
          return n == null ? null : JSON.writeValueAsBytes(n);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      },
      (topic, bytes) -> {
        try {
          return bytes == null ? null : JSON.readTree(bytes);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      });

  /** {@code {...record, "profile": row}} on the record's text: the row's text (or null) before the last '}'. */
  static String splice(String record, String row) {
    int end = record.lastIndexOf('}');
    String head = record.substring(0, end).stripTrailing();
    String sep = head.endsWith("{") ? "" : ",";
    return head + sep + "\"profile\":" + (row == null ? "null" : row) + "}";
  }

  public static void main(String[] argv) throws Exception {
    String brokers = "127.0.0.1:9092", input = null, table = null, output = null, appId = null, stateDir = null;
    String values = "text";
    boolean exactlyOnce = false;
    long stopAfter = -1;
    for (int i = 0; i < argv.length; i++) {
      switch (argv[i]) {
        case "--brokers" -> brokers = argv[++i];
        case "--input" -> input = argv[++i];
        case "--table" -> table = argv[++i];
        case "--output" -> output = argv[++i];
        case "--application-id" -> appId = argv[++i];
        case "--state-dir" -> stateDir = argv[++i];
        case "--values" -> values = argv[++i];
        case "--exactly-once" -> exactlyOnce = true;
        case "--stop-after" -> stopAfter = Long.parseLong(argv[++i]);
        default -> {
          System.err.println("unknown argument " + argv[i]);
          System.exit(2);
        }
      }
    }
    if (input == null || table == null || output == null || appId == null || !(values.equals("text") || values.equals("tree"))) {
      System.err.println("--input, --table, --output and --application-id are required; --values is text or tree");
      System.exit(2);
    }

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    if (stateDir != null) props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    if (exactlyOnce) props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);

    StreamsBuilder builder = new StreamsBuilder();
    if (values.equals("text")) {
      GlobalKTable<String, String> users = builder.globalTable(table, Consumed.with(Serdes.String(), Serdes.String()));
      KStream<String, Click> clicks = builder.stream(input, Consumed.with(Serdes.String(), CLICK_TEXT));
      clicks
          .leftJoin(users, (key, click) -> click.user(), (click, row) -> {
            joined();
            return splice(click.text(), row);
          })
          .to(output, Produced.with(Serdes.String(), Serdes.String()));
    } else {
      GlobalKTable<String, JsonNode> users = builder.globalTable(table, Consumed.with(Serdes.String(), TREE));
      KStream<String, JsonNode> clicks = builder.stream(input, Consumed.with(Serdes.String(), TREE));
      clicks
          .leftJoin(users, (key, click) -> {
            JsonNode u = click.get("user");
            return u == null || u.isNull() || u.isContainerNode() ? null : u.asText();
          }, (click, row) -> {
            joined();
            ObjectNode out = ((ObjectNode) click).deepCopy();
            out.set("profile", row == null ? NullNode.getInstance() : row);
            return (JsonNode) out;
          })
          .to(output, Produced.with(Serdes.String(), TREE));
    }

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stop = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stop.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.countDown();
      streams.close(Duration.ofSeconds(60));
    }));

    long t0 = System.nanoTime();
    streams.start();
    if (stopAfter >= 0) {
      while (JOINED.sum() < stopAfter && stop.getCount() > 0) Thread.sleep(10);
    } else {
      stop.await();
    }
    double processed = (System.nanoTime() - t0) / 1e9;
    boolean clean = streams.close(Duration.ofSeconds(60));
    long first = FIRST.get();
    System.err.printf("kafka-streams: %d records joined in %.2f s, closed in %.2f s more%s; first record joined at %.2f s%n",
        JOINED.sum(), processed, (System.nanoTime() - t0) / 1e9 - processed, clean ? "" : " (close timed out)",
        first == 0 ? Double.NaN : (first - t0) / 1e9);
    System.exit(streams.state() == KafkaStreams.State.NOT_RUNNING && clean ? 0 : 1);
  }
}
