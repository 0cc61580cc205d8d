package kstream.bench;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * The Kafka Streams side of bench/kstreams.mjs: per page and 1-minute event-time window (20 minutes of grace), the
 * count and average latency_ms of click records, written as JSON in the shape kstream's `window + aggregate` writes.
 *
 * <pre>
 *   java -cp 'target/windowed-count.jar:target/lib/*' kstream.bench.WindowedCount \
 *     --brokers 127.0.0.1:9092 --input clicks --output counts --application-id wc-1 \
 *     [--exactly-once] [--state-dir DIR] [--stop-after N]
 * </pre>
 *
 * Everything else is Kafka Streams' defaults (one stream thread, RocksDB window store with its record cache, commit
 * interval 30 s, or 100 ms under exactly-once), so the bench measures what a first user of the library would get.
 */
public final class WindowedCount {
  /** The fields the topology reads; the others of a record (clicks or wide) are skipped when it is parsed. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static final class Click {
    public long ts;
    public String page;
    public double latency_ms;
  }

  /** Count and sum so far: the average is derived when a result is written, so merging never loses precision. */
  record CountSum(long count, double sum) {}

  static final ObjectMapper JSON = new ObjectMapper();
  // built once: ObjectMapper.readValue(bytes, Class) looks the type up again on every call
  static final ObjectReader CLICK_READER = JSON.readerFor(Click.class);
  static final ObjectWriter CLICK_WRITER = JSON.writerFor(Click.class);

  /**
   * Records the aggregator has taken in. Once it reaches --stop-after the input has been processed (a record late past
   * the grace would never count, but 20 minutes of grace covers the generated data) and the app can close.
   */
  static final LongAdder AGGREGATED = new LongAdder();

  /**
   * The source parses each value once into a Click; the same serde carries those three fields (not the whole record)
   * through the repartition topic that groupBy needs.
   */
  static final Serde<Click> CLICK = Serdes.serdeFrom(
      (topic, click) -> {
        try {
          return click == null ? null : CLICK_WRITER.writeValueAsBytes(click);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      },
      (topic, bytes) -> {
        try {
          return bytes == null ? null : CLICK_READER.readValue(bytes);
        } catch (IOException e) {
          throw new SerializationException(e);
        }
      });

  /** 16 bytes in the window store: it is written on every update, so no JSON there. */
  static final Serde<CountSum> COUNT_SUM = Serdes.serdeFrom(
      (topic, a) -> a == null ? null : ByteBuffer.allocate(16).putLong(a.count()).putDouble(a.sum()).array(),
      (topic, bytes) -> {
        if (bytes == null) return null;
        ByteBuffer b = ByteBuffer.wrap(bytes);
        return new CountSum(b.getLong(), b.getDouble());
      });

  /** Event time is the record's `ts` (epoch ms), not the Kafka timestamp the producer set. */
  public static final class EventTime implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      // the source's serde has already parsed the value
      return ((Click) record.value()).ts;
    }
  }

  public static void main(String[] argv) throws Exception {
    String brokers = "127.0.0.1:9092", input = null, output = null, appId = null, stateDir = null;
    boolean exactlyOnce = false;
    long stopAfter = -1;
    for (int i = 0; i < argv.length; i++) {
      switch (argv[i]) {
        case "--brokers" -> brokers = argv[++i];
        case "--input" -> input = argv[++i];
        case "--output" -> output = argv[++i];
        case "--application-id" -> appId = argv[++i];
        case "--state-dir" -> stateDir = argv[++i];
        case "--exactly-once" -> exactlyOnce = true;
        case "--stop-after" -> stopAfter = Long.parseLong(argv[++i]);
        default -> {
          System.err.println("unknown argument " + argv[i]);
          System.exit(2);
        }
      }
    }
    if (input == null || output == null || appId == null) {
      System.err.println("--input, --output and --application-id are required");
      System.exit(2);
    }

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    if (stateDir != null) props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    if (exactlyOnce) props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), CLICK).withTimestampExtractor(new EventTime()))
        // a new key: Kafka Streams writes the records to a repartition topic and reads them back, so that each
        // page's windows live in one task
        .groupBy((user, click) -> click.page, Grouped.with("by-page", Serdes.String(), CLICK))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofMinutes(20)))
        .aggregate(
            () -> new CountSum(0, 0),
            (page, click, agg) -> {
              AGGREGATED.increment();
              return new CountSum(agg.count() + 1, agg.sum() + click.latency_ms);
            },
            Materialized.with(Serdes.String(), COUNT_SUM))
        .toStream()
        .map((window, agg) -> {
          ObjectNode out = JSON.createObjectNode();
          out.put("key", window.key());
          ObjectNode w = out.putObject("window");
          w.put("start", window.window().start());
          w.put("end", window.window().end());
          out.put("count", agg.count());
          out.put("avg_latency_ms", agg.sum() / agg.count());
          return KeyValue.pair(window.key(), out.toString());
        })
        .to(output, Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stop = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stop.countDown();
    });
    // SIGTERM (the bench's fallback) closes cleanly: close() flushes the record cache to the output topic and commits
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.countDown();
      streams.close(Duration.ofSeconds(60));
    }));

    long t0 = System.nanoTime();
    streams.start();
    if (stopAfter >= 0) {
      while (AGGREGATED.sum() < stopAfter && stop.getCount() > 0) Thread.sleep(10);
    } else {
      stop.await();
    }
    double processed = (System.nanoTime() - t0) / 1e9;
    boolean clean = streams.close(Duration.ofSeconds(60));
    System.err.printf("kafka-streams: %d records aggregated in %.2f s, closed in %.2f s more%s%n", AGGREGATED.sum(), processed,
        (System.nanoTime() - t0) / 1e9 - processed, clean ? "" : " (close timed out)");
    System.exit(streams.state() == KafkaStreams.State.NOT_RUNNING && clean ? 0 : 1);
  }
}
