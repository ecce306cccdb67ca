// --tcp or --udp: the choice the echo and time demos share.
import ArgumentParser

enum Transport: String, EnumerableFlag {
    case tcp, udp

    static func help(for value: Transport) -> ArgumentHelp? {
        value == .tcp ? "Use TCP (the default)." : "Use UDP datagrams."
    }
}
