/// `%XX` escapes of a URL's user, password or path decoded; nil when an escape is broken or the
/// result is not UTF-8 (service URLs in `.env.production`: `REDIS_URL`, `DATABASE_URL`).
func percentDecoded(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next(), let low = iterator.next(), high != UInt8(ascii: "+"),
            high != UInt8(ascii: "-"), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
        else { return nil }
        bytes.append(value)
    }
    return String(validating: bytes, as: UTF8.self)
}
