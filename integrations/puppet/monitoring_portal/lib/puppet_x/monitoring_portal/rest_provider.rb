# frozen_string_literal: true

require 'time'
require_relative 'client'

module PuppetX
  module MonitoringPortal
    # What the providers of this module share: property getters that read the object once, setters
    # that only remember, and a flush that writes what changed in one request (PUT to create, PATCH
    # with If-Match to change, DELETE to remove). Puppet calls no setter and no flush under --noop.
    module RestProvider
      def self.included(base)
        base.extend(ClassMethods)
      end

      # Declares the properties: name => [API field, kind]; kinds: :string, :ref (a name, '' for
      # none), :int, :bool, :list (ordered), :set (unordered), :ints (numbers, unordered), :vars
      # (custom variables).
      module ClassMethods
        def portal_properties(map = nil)
          return @portal_properties if map.nil?
          @portal_properties = map
          map.each do |prop, (key, kind)|
            define_method(prop) { exists? ? from_api(current[key], kind) : :absent }
            define_method("#{prop}=") { |value| property_flush[prop] = value }
          end
        end
      end

      def exists?
        !current.nil?
      end

      def create
        property_flush[:ensure] = :present
      end

      def destroy
        property_flush[:ensure] = :absent
      end

      def property_flush
        @property_flush ||= {}
      end

      # The object as the portal has it (nil: absent), read once per run.
      def current
        return @current if @read
        response = read
        @read = true
        @etag = response&.etag
        @current = response&.data
      rescue Error => e
        raise Puppet::Error, e.message
      end

      def client
        @client ||= Client.for_resource(resource)
      rescue Error => e
        raise Puppet::Error, e.message
      end

      def flush
        changes = property_flush
        return if changes.empty?
        wait = resource[:wait] != :false
        timeout = Integer(resource[:wait_timeout] || 120)
        if changes[:ensure] == :absent
          client.write('DELETE', api_path, wait: wait, wait_timeout: timeout)
        elsif changes[:ensure] == :present
          method, path = create_request
          client.write(method, path, body: create_body, wait: wait, wait_timeout: timeout)
        else
          body = changes.to_h { |prop, value| [api_key(prop), to_api(value, api_kind(prop))] }
          client.write('PATCH', api_path, body: body, etag: @etag, wait: wait, wait_timeout: timeout)
        end
        @read = false
        @property_flush = {}
      rescue Error => e
        raise Puppet::Error, e.message
      end

      private

      # The object's answer (nil: absent). Objects with a name are read at their path; relations,
      # which have none, override this to find theirs by its natural keys.
      def read
        client.get(api_path)
      end

      # Objects with a name are created by PUT at their own path; relations by POST (id-addressed).
      def create_request
        ['PUT', api_path]
      end

      # Every property the manifest sets, for a create.
      def create_body
        self.class.portal_properties.each_with_object({}) do |(prop, (key, kind)), body|
          should = resource.should(prop)
          body[key] = to_api(should, kind) unless should.nil?
        end
      end

      def api_key(prop)
        self.class.portal_properties.fetch(prop).first
      end

      def api_kind(prop)
        self.class.portal_properties.fetch(prop).last
      end

      def from_api(value, kind)
        case kind
        when :string, :ref then value.nil? ? '' : value.to_s
        when :int then value.nil? ? :absent : Integer(value)
        when :bool then value.nil? ? :absent : (value ? :true : :false)
        when :list, :set, :ints then Array(value)
        when :vars then value || {}
        when :lease then lease_remaining(value)
        else value
        end
      end

      def to_api(value, kind)
        case kind
        when :ref then value.to_s.empty? ? nil : value.to_s
        when :int then Integer(value)
        when :bool then value.to_s == 'true'
        when :list, :set then Array(value)
        when :ints then Array(value).map { |v| Integer(v) }
        when :lease then Integer(value).zero? ? nil : Integer(value)
        else value
        end
      end

      # Seconds left of the lease in an ``expires_at`` (:absent: no lease).
      def lease_remaining(expires_at)
        return :absent if expires_at.nil?
        (Time.iso8601(expires_at.sub(/\.\d+/, '')) - Time.now).floor
      end
    end
  end
end
