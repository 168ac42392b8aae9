"""Word lists for realistic values: search terms, names, user agents, slugs.

Search terms deliberately include benign look-alikes of attack strings
("select chair", "union jack flag", "o'reilly", "<3") so detectors that key
on SQL words or quotes pay for it in false positives.
"""

from __future__ import annotations

SEARCH_TERMS: tuple[str, ...] = (
    "running shoes", "men's shoes", "women's jackets", "o'reilly", "select chair",
    "union jack flag", "drop earrings", "<3", "kids raincoat", "usb-c cable",
    "wireless earbuds", "coffee grinder", "standing desk", "yoga mat", "hiking boots",
    "phone case", "laptop stand", "4k monitor", "mechanical keyboard", "office chair",
    "winter coat", "linen shirt", "socks", "backpack", "water bottle", "air fryer",
    "cast iron pan", "led strip", "desk lamp", "sofa", "bed sheets queen", "t-shirt xl",
    "jeans 32x34", "dress", "sneakers", "sandals", "watch", "sunglasses", "perfume",
    "lego", "board games", "puzzle 1000", "tent", "bike helmet", "drill", "screwdriver set",
    "garden hose", "plant pot", "rug", "curtains", "mirror", "table and chairs",
    "drop-leaf table", "select comfort pillow", "where's waldo", "rock & roll t-shirt",
    "100% cotton", "c++ book", "1/2 inch socket", "salt & pepper", "ben & jerry's",
    "café au lait mug", "crème brûlée torch", "niño costume", "größe 42", "日本茶",
    "iphone 15", "galaxy s24", "pixel 8 case", "airpods", "switch games", "ps5",
    "gift card", "nike", "adidas", "levi's", "north face", "patagonia", "ikea", "dyson",
    "or", "and", "not", "script", "alert clock", "exec chair", "drop shipping",
    "delete key caps", "insert molding", "update firmware cable", "truncate cone",
    # More look-alikes: quotes, SQL and shell words, angle brackets, %, &, slashes.
    "o'reilly books", "<3 valentine", "50% off", "c++ primer", "rock & roll",
    "men's shoes size 10", "kids' shoes", "macbook pro sleeve (13\")", "14 x 18\" frame",
    "3 to 6 months", "o'connor's union selected", "do or not do", "ipad -4 case",
    "select * t-shirt", "union station print", "order by color", "drop table lamp",
    "sleep mask", "benchmark 2026 book", "1/2\" drill bit", "a/b testing book",
    "<b>old</b> sign", "tom & jerry dvd", "m&m's", "at&t sim", "100% wool", "2>1 shirt",
    "c# in depth", "f#", "node.js book", "ls 400 pen", "cat & dog bowl", "wget bird feeder",
    "script font stickers", "javascript: the good parts", "bash & pop party", "sudo hoodie",
    "rm 1000", "where 2 buy", "1=1 socks", "and/or sign", "'70s dress", "\"the\" band tee",
    "ex-con hat", "shell & tube", "ping pong table", "echo dot", "curl cream",
)

SUGGEST_PREFIXES: tuple[str, ...] = tuple(
    sorted({t[:n] for t in SEARCH_TERMS for n in (1, 2, 3, 4, 6) if len(t) >= n})
)

CATEGORY_SLUGS: tuple[str, ...] = (
    "mens-running-shoes", "womens-jackets", "kids-clothing", "home-office", "kitchen",
    "garden-outdoor", "electronics", "phones-accessories", "audio", "toys-games",
    "sports-fitness", "beauty", "jewellery", "bags-luggage", "furniture", "lighting",
    "bedding", "bath", "pet-supplies", "books", "tools-diy", "automotive", "baby",
    "watches", "sunglasses", "gift-ideas", "sale", "new-arrivals", "back-to-school",
)

COLLECTION_SLUGS: tuple[str, ...] = (
    "spring-sale-2026", "editors-picks", "under-25", "eco-friendly", "best-sellers",
    "limited-edition", "gifts-for-her", "gifts-for-him", "clearance", "staff-favourites",
)

FIRST_NAMES: tuple[str, ...] = (
    "anna", "ben", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jonas",
    "kenji", "lea", "mohammed", "nora", "oscar", "priya", "quentin", "rosa", "sven",
    "tomás", "ursula", "victor", "wei", "xenia", "yusuf", "zoe", "seán", "d'angelo",
)

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de", "web.de",
    "example.org", "company.co.uk", "orange.fr",
)

CITIES: tuple[str, ...] = (
    "Berlin", "Paris", "London", "Madrid", "Lisbon", "Dublin", "Amsterdam", "Vienna",
    "Warsaw", "Milan", "München", "Zürich", "Kraków", "Göteborg", "São Paulo",
)

COUNTRIES: tuple[str, ...] = ("DE", "FR", "GB", "ES", "PT", "IE", "NL", "AT", "PL", "IT", "SE")
CURRENCIES: tuple[str, ...] = ("EUR", "EUR", "EUR", "GBP", "USD", "PLN", "SEK")
COLORS: tuple[str, ...] = ("black", "white", "navy", "red", "olive", "beige", "grey", "blue")
SIZES: tuple[str, ...] = ("xs", "s", "m", "l", "xl", "xxl", "38", "40", "42", "44", "one-size")
SORTS: tuple[str, ...] = ("relevance", "price_asc", "price_desc", "newest", "rating", "-created")
ORDER_STATES: tuple[str, ...] = ("pending", "paid", "shipped", "delivered", "cancelled")
REVIEW_TEXTS: tuple[str, ...] = (
    "Great quality, fits as expected.", "Arrived late but works fine.",
    "Not what I expected :(", "Love it <3", "5 stars!!! would buy again",
    "Size runs small, order one up.", "Colour is darker than on the picture.",
    "Meh. It's ok for the price.", "Perfect gift for my dad's birthday",
    "Select the larger size, trust me", "Drop-in replacement for the old one",
    "My kid's favourite -- she won't take it off.", "It's \"waterproof\" until it rains.",
    "Bought it for my wife's birthday; she said it's the best gift she's ever had.",
    "Works with my 2019 MacBook (13\") & the USB-C hub, 10/10.",
    "Union Jack print is lovely; order one size up if you're between sizes.",
    "Don't bother with the 'premium' version, the standard one is the same thing.",
    "After 3 months of daily use: the zip broke, the seller replaced it within a week, "
    "no questions asked. Customer service was great, but I'd rather it hadn't broken in the "
    "first place. The fabric is soft, the colour hasn't faded in the wash (30 degrees, "
    "as the label says) and the pockets are deep enough for a phone.",
    "I was sceptical because of the price, but it's honestly better than the one I had "
    "from the big brand. Assembly took 20 minutes; the instructions are pictures only, "
    "which was fine. Two screws were missing from the bag, so I used spares from the "
    "drawer. Would recommend to anyone who needs a simple, sturdy desk.",
    "Ordered the 'navy' and got something closer to black -- see photo. Returned it; "
    "refund came 5 days later. 2/5 for the colour, 5/5 for the returns process.",
    "Great for <5 year olds, the pieces are big enough not to swallow.",
    "SELECT your size carefully: the chart on the page is in EU sizes, not UK!",
    "Bonjour ! Très bon produit, livraison rapide. Je recommande à 100%.",
    "Perfecto para el día a día, aunque el envío tardó un poco más de lo esperado.",
)

REVIEW_TITLES: tuple[str, ...] = (
    "Love it!", "Meh...", "Not for me :(", "5/5", "Great value & quality",
    "\"Best purchase this year\"", "Don't buy -- read why", "Exactly as described",
)

DELIVERY_NOTES: tuple[str, ...] = (
    "Leave it with the neighbour (no. 12) -- thanks!", "Call me when you're here; don't knock",
    "Back door / side gate", "Apt #3 & ring twice", "Please don't leave it outside :(",
    "Drop at reception, 2nd floor", "If I'm out, leave it in the shed. The code is on the door.",
    "It's a gift -- no invoice in the box please", "Deliver after 5pm; O'Brien on the bell",
)

# Where login/logout send people next: own pages and public sites (open-redirect look-alikes).
REDIRECT_TARGETS: tuple[str, ...] = (
    "/account", "/account/orders", "/checkout?step=2", "/", "/cart",
    "https://shop.example.com/orders", "https://shop.example.com/search?q=men%27s+shoes",
    "https://www.google.com/", "https://accounts.google.com/o/oauth2/v2/auth",
    "https://www.paypal.com/checkoutnow?token=EC-5YJ12345AB678901C",
    "https://help.example.com/hc/en-us/articles/360001234-Returns-&-refunds",
    "https://en.wikipedia.org/wiki/O%27Reilly_Media", "shopapp://orders/recent",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://shop.example.com/account?tab=security",
)

BROWSER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.92",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.6312.80 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.6261.119 Mobile Safari/537.36",
)

APP_UAS: tuple[str, ...] = (
    "ShopApp/5.12.1 (iPhone; iOS 17.4; Scale/3.00)",
    "ShopApp/5.11.0 (iPhone; iOS 16.7.6; Scale/3.00)",
    "ShopApp/5.12.1 (Android 14; Pixel 8; okhttp/4.12.0)",
    "ShopApp/5.9.3 (Android 12; SM-A525F; okhttp/4.9.3)",
    "okhttp/4.12.0",
    "Dalvik/2.1.0 (Linux; U; Android 13; SM-G991B Build/TP1A.220624.014)",
    "CFNetwork/1494.0.7 Darwin/23.4.0",
)

TOOL_UAS: tuple[str, ...] = (
    "python-requests/2.31.0", "python-requests/2.28.2", "Go-http-client/1.1",
    "Go-http-client/2.0", "curl/8.5.0", "curl/7.81.0", "axios/1.6.7", "node-fetch/1.0",
    "Java/17.0.10", "Apache-HttpClient/4.5.14 (Java/11.0.22)", "PostmanRuntime/7.37.0",
    "aiohttp/3.9.3", "Ruby", "partner-sync/2.4 (+https://partner.example.com)",
)

CRAWLER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
)

PROBE_UA = "kube-probe/1.29"
STRIPE_UA = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

REFERERS: tuple[str, ...] = (
    "https://shop.example.com/", "https://shop.example.com/search",
    "https://www.google.com/", "https://shop.example.com/cart", "-",
)

# Odd but harmless one-off requests every real access log has.
SINGLETON_PATHS: tuple[str, ...] = (
    "/favicon.ico", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png",
    "/.well-known/security.txt", "/ads.txt", "/browserconfig.xml", "/manifest.json",
    "/.well-known/assetlinks.json", "/.well-known/apple-app-site-association",
)
