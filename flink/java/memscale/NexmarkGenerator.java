package memscale;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.SplittableRandom;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.types.DataType;
import org.apache.flink.types.Row;

/**
 * Nexmark events by event number, with memscale's event mix and key
 * distributions (the `nexmark` crate's model, which is Beam's): event n is a
 * person, an auction or a bid by n mod 50 (1 : 3 : 46); bids go to a hot
 * auction with probability 1 - 1/hotAuctionRatio, otherwise to one of the
 * last inFlightAuctions auctions; bidders and sellers likewise over the last
 * activePeople people. Every event draws from its own random stream seeded by
 * its number, so a source restored from a savepoint regenerates exactly the
 * events it would have. The random streams are Java's, not Rust's: the
 * distributions are memscale's, the individual events are not.
 *
 * <p>One flat row per event: event_type, the person columns, the auction
 * columns, the bid columns (those of the other kinds null), dateTime.
 */
public final class NexmarkGenerator implements GeneratorFunction<Long, Row> {
    private static final long serialVersionUID = 1L;

    private static final int PROPORTION = 50;
    private static final int AUCTIONS_PER_EPOCH = 3;
    private static final long FIRST_ID = 1000;
    private static final int HOT_BATCH = 100;
    private static final int ID_LEAD = 10;
    private static final String[] FIRST_NAMES =
            "peter,paul,luke,john,saul,vicky,kate,julie,sarah,deiter,walter".split(",");
    private static final String[] LAST_NAMES =
            "shultz,abrams,spencer,white,bartels,walton,smith,jones,noris".split(",");
    private static final String[] CITIES =
            "phoenix,los angeles,san francisco,boise,portland,bend,redmond,seattle,kent,cheyenne".split(",");
    private static final String[] STATES = "az,ca,id,or,wa,wy".split(",");
    private static final String[] HOT_CHANNELS = "Google,Facebook,Baidu,Apple".split(",");
    private static final int CHANNELS = 10_000;

    private final long baseTimeMs;
    private final double eventRate;
    private final long inFlightAuctions;
    private final long activePeople;
    private final int hotAuctionRatio;
    private final int hotBidderRatio;
    private final int hotSellerRatio;

    public NexmarkGenerator(
            long baseTimeMs,
            double eventRate,
            long inFlightAuctions,
            long activePeople,
            int hotAuctionRatio,
            int hotBidderRatio,
            int hotSellerRatio) {
        this.baseTimeMs = baseTimeMs;
        this.eventRate = eventRate;
        this.inFlightAuctions = inFlightAuctions;
        this.activePeople = activePeople;
        this.hotAuctionRatio = hotAuctionRatio;
        this.hotBidderRatio = hotBidderRatio;
        this.hotSellerRatio = hotSellerRatio;
    }

    /** The row type of {@link #map}. */
    public static TypeInformation<Row> rowType() {
        return new RowTypeInfo(
                new TypeInformation<?>[] {
                    Types.INT,
                    Types.LONG, Types.STRING, Types.STRING, Types.STRING, Types.STRING, Types.STRING, Types.STRING,
                    Types.LONG, Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.LOCAL_DATE_TIME,
                    Types.LONG, Types.LONG, Types.STRING,
                    Types.LONG, Types.LONG, Types.LONG, Types.STRING, Types.STRING, Types.STRING,
                    Types.LOCAL_DATE_TIME
                },
                new String[] {
                    "event_type",
                    "p_id", "p_name", "p_emailAddress", "p_creditCard", "p_city", "p_state", "p_extra",
                    "a_id", "a_itemName", "a_description", "a_initialBid", "a_reserve", "a_expires",
                    "a_seller", "a_category", "a_extra",
                    "b_auction", "b_bidder", "b_price", "b_channel", "b_url", "b_extra",
                    "dateTime"
                });
    }

    /**
     * The table schema of {@link #rowType}, with dateTime as the event-time
     * attribute (TIMESTAMP(3), a watermark 4 s behind, as the Nexmark suite
     * declares it).
     */
    public static Schema schema() {
        RowTypeInfo type = (RowTypeInfo) rowType();
        Schema.Builder schema = Schema.newBuilder();
        for (int i = 0; i < type.getArity(); i++) {
            TypeInformation<?> t = type.getTypeAt(i);
            DataType d = t.equals(Types.INT)
                    ? DataTypes.INT()
                    : t.equals(Types.LONG)
                            ? DataTypes.BIGINT()
                            : t.equals(Types.STRING) ? DataTypes.STRING() : DataTypes.TIMESTAMP(3);
            schema.column(type.getFieldNames()[i], d);
        }
        return schema.watermark("dateTime", "`dateTime` - INTERVAL '4' SECOND").build();
    }

    @Override
    public Row map(Long number) {
        long n = number;
        long time = timestamp(n);
        SplittableRandom rng = new SplittableRandom(n * 0x9E3779B97F4A7C15L + 1);
        Row row = new Row(24);
        int kind = (int) (n % PROPORTION);
        if (kind == 0) {
            row.setField(0, 0);
            person(n, rng, row);
        } else if (kind <= AUCTIONS_PER_EPOCH) {
            row.setField(0, 1);
            auction(n, time, rng, row);
        } else {
            row.setField(0, 2);
            bid(n, rng, row);
        }
        row.setField(23, toLocal(time));
        return row;
    }

    private long timestamp(long n) {
        return baseTimeMs + Math.round(n * 1000.0 / eventRate);
    }

    private static LocalDateTime toLocal(long ms) {
        return LocalDateTime.ofInstant(Instant.ofEpochMilli(ms), ZoneOffset.UTC);
    }

    /** The newest person at event n (0-based, before FIRST_ID). */
    private static long lastPerson(long n) {
        return n / PROPORTION;
    }

    /** The newest auction at event n (0-based). */
    private static long lastAuction(long n) {
        long epoch = n / PROPORTION;
        long offset = n % PROPORTION;
        if (offset == 0) {
            return epoch * AUCTIONS_PER_EPOCH - 1;
        }
        return epoch * AUCTIONS_PER_EPOCH + Math.min(offset - 1, AUCTIONS_PER_EPOCH - 1);
    }

    private long activePerson(long n, SplittableRandom rng) {
        long people = lastPerson(n) + 1;
        long active = Math.min(people, activePeople);
        return people - active + rng.nextLong(active + ID_LEAD);
    }

    private long openAuction(long n, SplittableRandom rng) {
        long newest = Math.max(lastAuction(n), 0);
        long oldest = Math.max(newest - inFlightAuctions, 0);
        return oldest + rng.nextLong(newest - oldest + 1 + ID_LEAD);
    }

    private static String letters(SplittableRandom rng, int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            c[i] = (char) ('a' + rng.nextInt(26));
        }
        return new String(c);
    }

    /** Padding that brings a row to `average` bytes on average. */
    private static String extra(SplittableRandom rng, int size, int average) {
        if (size > average) {
            return "";
        }
        int want = average - size;
        int delta = (want + 2) / 5;
        return letters(rng, want - delta + (delta == 0 ? 0 : rng.nextInt(2 * delta)));
    }

    private static long price(SplittableRandom rng) {
        return Math.round(Math.pow(10.0, rng.nextDouble() * 6.0) * 100.0);
    }

    private void person(long n, SplittableRandom rng, Row row) {
        String name = FIRST_NAMES[rng.nextInt(FIRST_NAMES.length)] + " " + LAST_NAMES[rng.nextInt(LAST_NAMES.length)];
        String email = letters(rng, 7) + "@" + letters(rng, 5) + ".com";
        String card = String.format(
                "%04d %04d %04d %04d", rng.nextInt(10000), rng.nextInt(10000), rng.nextInt(10000), rng.nextInt(10000));
        String city = CITIES[rng.nextInt(CITIES.length)];
        String state = STATES[rng.nextInt(STATES.length)];
        int size = 8 + name.length() + email.length() + card.length() + city.length() + state.length();
        row.setField(1, lastPerson(n) + FIRST_ID);
        row.setField(2, name);
        row.setField(3, email);
        row.setField(4, card);
        row.setField(5, city);
        row.setField(6, state);
        row.setField(7, extra(rng, size, 200));
    }

    private void auction(long n, long time, SplittableRandom rng, Row row) {
        String item = letters(rng, 20);
        String description = letters(rng, 100);
        long initialBid = price(rng);
        long reserve = initialBid + price(rng);
        // Auctions stay open about as long as it takes to open
        // inFlightAuctions more, so that many are in flight at a time.
        long horizonMs = timestamp(n + inFlightAuctions * PROPORTION / AUCTIONS_PER_EPOCH) - time;
        long expires = time + 1 + rng.nextLong(Math.max(horizonMs * 2, 1));
        long seller = rng.nextInt(hotSellerRatio) > 0
                ? (lastPerson(n) / HOT_BATCH) * HOT_BATCH
                : activePerson(n, rng);
        long category = 10 + rng.nextInt(5);
        row.setField(8, lastAuction(n) + FIRST_ID);
        row.setField(9, item);
        row.setField(10, description);
        row.setField(11, initialBid);
        row.setField(12, reserve);
        row.setField(13, toLocal(expires));
        row.setField(14, seller + FIRST_ID);
        row.setField(15, category);
        row.setField(16, extra(rng, 8 + item.length() + description.length() + 40, 500));
    }

    private void bid(long n, SplittableRandom rng, Row row) {
        long auction = rng.nextInt(hotAuctionRatio) > 0
                ? (lastAuction(n) / HOT_BATCH) * HOT_BATCH
                : openAuction(n, rng);
        long bidder = rng.nextInt(hotBidderRatio) > 0
                ? (lastPerson(n) / HOT_BATCH) * HOT_BATCH + 1
                : activePerson(n, rng);
        long price = price(rng);
        String channel;
        String url;
        if (rng.nextInt(2) > 0) {
            int i = rng.nextInt(HOT_CHANNELS.length);
            channel = HOT_CHANNELS[i];
            url = "https://www.nexmark.com/hot/" + i + "/item.htm?query=1";
        } else {
            int i = rng.nextInt(CHANNELS);
            channel = "channel-" + i;
            url = "https://www.nexmark.com/" + i + "/item.htm?query=1&channel_id=" + Math.abs(Integer.reverse(i));
        }
        row.setField(17, auction + FIRST_ID);
        row.setField(18, bidder + FIRST_ID);
        row.setField(19, price);
        row.setField(20, channel);
        row.setField(21, url);
        row.setField(22, extra(rng, 32, 100));
    }
}
