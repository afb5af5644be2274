import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw TCP server on loopback that answers HTTP requests badly, on purpose:
/// the client must turn every kind of bad reply into a typed error in time.
final class MisbehavingServer: Sendable {
    enum Behavior: Sendable {
        /// Sends these bytes as the whole reply, then closes.
        case raw(String)
        /// A well-formed reply with this status and body.
        case reply(status: Int, body: String, headers: [String] = [])
        /// Reads the request and never answers.
        case silence
        /// Answers headers and half a body, then stalls.
        case stallMidBody
        /// Sends one body byte every 100 ms, forever.
        case trickle
        /// Promises and sends far more than any cap.
        case flood(bytes: Int)
        /// Closes with a TCP reset as soon as the request arrives.
        case reset
        /// Each attempt gets the next behaviour (the last one repeats).
        case sequence([Behavior])
    }

    let port: Int
    private let channel: any Channel
    private let state: Mutex<(requests: Int, heads: [String])>

    var requestCount: Int { state.withLock { $0.requests } }
    var requestHeads: [String] { state.withLock { $0.heads } }

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
        self.state = Mutex((0, []))
    }

    static func start(_ behavior: Behavior) async throws -> MisbehavingServer {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(behavior: behavior, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = MisbehavingServer(port: channel.localAddress?.port ?? 0, channel: channel)
        counter.server.withLock { $0 = server }
        return server
    }

    func stop() async {
        try? await channel.close()
    }

    fileprivate func record(head: String) -> Int {
        state.withLock { state in
            state.requests += 1
            state.heads.append(head)
            return state.requests
        }
    }

    final class Counter: Sendable {
        let server = Mutex<MisbehavingServer?>(nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let behavior: Behavior
        let counter: Counter
        var received = ""
        var answered = false

        init(behavior: Behavior, counter: Counter) {
            self.behavior = behavior
            self.counter = counter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readString(length: buffer.readableBytes) ?? ""
            guard !answered, let end = received.range(of: "\r\n\r\n") else { return }
            answered = true
            let head = String(received[..<end.lowerBound])
            let attempt = counter.server.withLock { $0?.record(head: head) } ?? 1
            act(resolve(behavior, attempt: attempt), context: context)
        }

        private func resolve(_ behavior: Behavior, attempt: Int) -> Behavior {
            guard case .sequence(let steps) = behavior, !steps.isEmpty else { return behavior }
            return steps[min(attempt, steps.count) - 1]
        }

        private func write(_ text: String, context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        }

        private func act(_ behavior: Behavior, context: ChannelHandlerContext) {
            switch behavior {
            case .raw(let text):
                write(text, context: context)
                context.close(promise: nil)
            case .reply(let status, let body, let headers):
                let extra = headers.map { $0 + "\r\n" }.joined()
                write(
                    "HTTP/1.1 \(status) Status\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extra)Connection: close\r\n\r\n\(body)",
                    context: context)
                context.close(promise: nil)
            case .silence:
                break
            case .stallMidBody:
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\": \"O", context: context)
            case .trickle:
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", context: context)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { task in
                    let context = bound.value
                    guard context.channel.isActive else {
                        task.cancel()
                        return
                    }
                    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: " ")), promise: nil)
                }
            case .flood(let bytes):
                write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(bytes)\r\n\r\n", context: context)
                let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "["), count: 64 << 10)
                for _ in 0..<(bytes / chunk.readableBytes) {
                    context.write(wrapOutboundOut(chunk), promise: nil)
                }
                context.flush()
            case .reset:
                // SO_LINGER 0 makes the close an RST rather than a FIN.
                _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                context.close(promise: nil)
            case .sequence:
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
