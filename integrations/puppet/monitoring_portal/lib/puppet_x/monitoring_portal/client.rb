# frozen_string_literal: true

# A small client of the monitoring portal's REST API for the providers of this module.
# Ruby's standard library only (net/http, json, uri, yaml): nothing to install on the agent.
require 'json'
require 'net/http'
require 'uri'
require 'yaml'

module PuppetX
  module MonitoringPortal
    # A request that failed; the message is what a person needs to act on it.
    class Error < StandardError
      attr_reader :status, :body

      def initialize(message, status = 0, body = nil)
        super(message)
        @status = status
        @body = body
      end
    end

    # An answer: HTTP status, parsed JSON body and the ETag.
    Response = Struct.new(:status, :data, :etag)

    # Bearer-token JSON requests against <url>/api/v1/.
    class Client
      FINAL = %w[confirmed failed skipped].freeze
      MAX_SERVER_WAIT = 120
      REASONS = {
        400 => 'the portal refused the input',
        401 => 'the API token was not accepted (wrong, revoked or expired)',
        403 => 'not allowed',
        404 => 'not found',
        409 => 'conflict',
        412 => 'the object changed since it was read (ETag); run again',
      }.freeze

      # The connection settings of a resource: its url/token parameters, else the environment
      # (PORTAL_URL, PORTAL_API_TOKEN), else the config file (PORTAL_CONFIG or
      # <confdir>/monitoring_portal.yaml with keys url, token, verify_tls, timeout).
      def self.for_resource(resource)
        file = config_file
        url = resource[:url] || ENV['PORTAL_URL'] || file['url']
        token = resource[:token] || ENV['PORTAL_API_TOKEN'] || file['token']
        verify = file.fetch('verify_tls', true)
        new(url, token, verify_tls: verify != false, timeout: Integer(file.fetch('timeout', 30)))
      end

      def self.config_file
        path = ENV['PORTAL_CONFIG'] || File.join(Puppet[:confdir], 'monitoring_portal.yaml')
        return {} unless File.exist?(path)
        data = YAML.safe_load(File.read(path)) || {}
        raise Error, "#{path} must be a mapping of url, token, verify_tls, timeout" unless data.is_a?(Hash)
        data
      end

      # An API path from natural keys: each segment URL-encoded (spaces, '/', ';', newlines).
      def self.path(*segments)
        segments.map { |s| URI.encode_www_form_component(s.to_s).gsub('+', '%20') }.join('/') + '/'
      end

      # The API's error body as "field: message" parts (nested lists and objects flattened).
      def self.format_errors(body, prefix = '')
        case body
        when Hash
          body.flat_map do |key, value|
            next [] if %w[deployments deployment_results results].include?(key)
            if key.to_s.match?(%r{\A\d+\z}) # an item of a list: {"services": {"1": {...}}}
              format_errors(value, "#{prefix}[#{key}]")
            else
              name = %w[detail non_field_errors].include?(key) ? '' : key
              format_errors(value, [prefix, name].reject(&:empty?).join('.'))
            end
          end
        when Array
          if body.all? { |item| item.is_a?(String) }
            text = body.join(' ')
            [prefix.empty? ? text : "#{prefix}: #{text}"]
          else
            body.each_with_index.flat_map { |item, i| item.nil? || item.empty? ? [] : format_errors(item, "#{prefix}[#{i}]") }
          end
        when nil, ''
          []
        else
          [prefix.empty? ? body.to_s : "#{prefix}: #{body}"]
        end
      end

      def initialize(url, token, verify_tls: true, timeout: 30)
        raise Error, 'No portal URL: set url, PORTAL_URL or the config file' if url.nil? || url.to_s.empty?
        raise Error, 'No API token: set token, PORTAL_API_TOKEN or the config file' if token.nil? || token.to_s.empty?
        base = url.to_s.chomp('/')
        base += '/api/v1' unless base.end_with?('/api/v1')
        @base = URI("#{base}/")
        @token = token.to_s
        @verify_tls = verify_tls
        @timeout = timeout
      end

      # The object at a path, or nil when it does not exist.
      def get(path)
        response = request('GET', path, ok: [404])
        response.status == 404 ? nil : response
      end

      # Every item of a paginated list (follows next), with query filters.
      def list(path, filters = {})
        items = []
        data = request('GET', path, query: filters.merge('limit' => 500)).data
        loop do
          return items + data if data.is_a?(Array)
          items.concat(data['results'] || [])
          return items if data['next'].nil?
          data = request('GET', data['next']).data
        end
      end

      # PUT/PATCH/POST/DELETE a registry object; with wait, until its deployments are final.
      # Raises Error when a deployment failed (the change stays stored) or did not finish in time.
      def write(method, path, body: nil, etag: nil, wait: true, wait_timeout: 120)
        deadline = monotonic + wait_timeout
        query = wait ? { 'wait' => wait_timeout.clamp(1, MAX_SERVER_WAIT) } : {}
        headers = etag ? { 'If-Match' => etag } : {}
        response = request(method, path, body: body, query: query, headers: headers, ok: [409],
                                         timeout: @timeout + query.fetch('wait', 0))
        data = response.data.is_a?(Hash) ? response.data : {}
        if response.status == 409 && (data['deployment_results'] || []).empty?
          raise Error.new(describe(method, url_for(path), 409, response.data), 409, response.data)
        end
        deployments = data['deployment_results'] || []
        deployments = wait_for(deployments, deadline) if wait && !deployments.empty?
        [response, deployments]
      end

      def request(method, path, body: nil, query: {}, headers: {}, ok: [], timeout: nil)
        uri = url_for(path, query)
        http = Net::HTTP.new(uri.host, uri.port)
        http.use_ssl = uri.scheme == 'https'
        http.verify_mode = @verify_tls ? OpenSSL::SSL::VERIFY_PEER : OpenSSL::SSL::VERIFY_NONE if http.use_ssl?
        http.open_timeout = @timeout
        http.read_timeout = timeout || @timeout
        klass = { 'GET' => Net::HTTP::Get, 'PUT' => Net::HTTP::Put, 'PATCH' => Net::HTTP::Patch,
                  'POST' => Net::HTTP::Post, 'DELETE' => Net::HTTP::Delete }.fetch(method)
        req = klass.new(uri)
        req['Authorization'] = "Bearer #{@token}"
        req['Accept'] = 'application/json'
        req['User-Agent'] = 'monitoring_portal-puppet/1.0'
        headers.each { |k, v| req[k] = v }
        unless body.nil?
          req['Content-Type'] = 'application/json'
          req.body = JSON.generate(body)
        end
        begin
          res = http.request(req)
        rescue StandardError => e
          raise Error, "#{method} #{uri}: cannot reach the portal: #{e.message}"
        end
        data = parse(res.body)
        status = res.code.to_i
        raise Error.new(describe(method, uri, status, data), status, data) if status >= 400 && !ok.include?(status)
        Response.new(status, data, res['ETag'])
      end

      private

      def url_for(path, query = {})
        uri = path.start_with?('http://', 'https://') ? URI(path) : URI.join(@base.to_s, path)
        unless query.empty?
          extra = URI.encode_www_form(query)
          uri.query = uri.query ? "#{uri.query}&#{extra}" : extra
        end
        uri
      end

      def parse(text)
        return nil if text.nil? || text.empty?
        JSON.parse(text)
      rescue JSON::ParserError
        text
      end

      def describe(method, uri, status, body)
        details = body.is_a?(Hash) || body.is_a?(Array) ? self.class.format_errors(body) : [body].compact
        head = "#{method} #{uri} answered #{status} (#{REASONS.fetch(status, 'error')})"
        details.empty? ? head : "#{head}: #{details.join('; ')}"
      end

      def wait_for(deployments, deadline)
        done = deployments.map do |deployment|
          until FINAL.include?(deployment['state'])
            remaining = (deadline - monotonic).to_i
            if remaining <= 0
              raise Error, "deployment #{deployment['id']} to #{deployment['node']} is still " \
                           "#{deployment['state']} after wait_timeout; see #{deployment['url']}"
            end
            seconds = [remaining, MAX_SERVER_WAIT].min
            deployment = request('GET', deployment['url'], query: { 'wait' => seconds },
                                                           timeout: @timeout + seconds).data
          end
          deployment
        end
        failed = done.select { |d| d['state'] == 'failed' }
        raise Error.new(failure_message(failed), 409, done) unless failed.empty?
        done
      end

      def failure_message(failed)
        failed.map { |d|
          output = (d['verify_output'].to_s.empty? ? d['reload_output'].to_s : d['verify_output'].to_s).strip
          shown = self.class.verifier_lines(output)
          "the change is stored, but deployment #{d['id']} to node #{d['node']} failed: " \
            "#{d['error'] || 'see the deployment'}. The node still runs its previous config." +
            (shown.empty? ? '' : "\nVerifier output:\n#{shown}") +
            (d['url'] ? "\nFull output: #{d['url']}" : '')
        }.join("\n")
      end

      # What a person needs of a verifier's output: its error lines (Naemon and Nagios print them
      # among dozens of "Checked ..." lines, and end with boilerplate), else its last 25 lines.
      def self.verifier_lines(output)
        lines = output.lines.map(&:rstrip)
        errors = lines.select { |line| line.strip.match?(%r{\Aerror\b}i) }
        (errors.empty? ? lines.last(25) : errors.first(25)).join("\n")
      end

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end
    end
  end
end
