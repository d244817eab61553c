# frozen_string_literal: true

require_relative 'rest_provider'

module PuppetX
  module MonitoringPortal
    # Dependencies and escalations have no name in Naemon: the portal addresses them by id. A
    # resource finds its object by its natural keys (the list filtered by host/service, then
    # matched on every key), creates it by POST, and changes or removes it at the url it found.
    # Includers define collection (the list's path), keys (API field => value) and filters.
    module RelationProvider
      include RestProvider

      def self.included(base)
        base.extend(RestProvider::ClassMethods)
      end

      def api_path
        current_url || collection
      end

      private

      def current_url
        exists? ? current['url'] : nil
      end

      def read
        found = client.list(collection, filters).select { |item| keys.all? { |k, v| item[k].to_s == v.to_s } }
        if found.length > 1
          raise Error, "#{found.length} objects match #{keys.map { |k, v| "#{k}=#{v}" }.join(', ')} " \
                       "(#{found.map { |item| item['url'] }.join(', ')}): remove all but one"
        end
        found.empty? ? nil : client.get(found.first['url'])
      end

      def create_request
        ['POST', collection]
      end

      def create_body
        super.merge(keys)
      end
    end
  end
end
