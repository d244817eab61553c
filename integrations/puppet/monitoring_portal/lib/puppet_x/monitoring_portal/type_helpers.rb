# frozen_string_literal: true

module PuppetX
  module MonitoringPortal
    # Parameters and property kinds that monitoring_host and monitoring_service share.
    module TypeHelpers
      def self.connection_parameters(type)
        type.newparam(:url) do
          desc 'Base URL of the portal (https://portal.example.org). Default: PORTAL_URL, then the config file.'
        end
        type.newparam(:token) do
          desc 'A personal API token. Default: PORTAL_API_TOKEN, then the config file (<confdir>/monitoring_portal.yaml).'
          sensitive true
        end
        type.newparam(:wait, boolean: true) do
          desc 'Whether a change waits until the Naemon nodes confirm it; a refused deployment fails the resource.'
          newvalues(:true, :false)
          defaultto :true
        end
        type.newparam(:wait_timeout) do
          desc 'Seconds to wait for the deployments (default 120).'
          defaultto 120
          validate { |value| raise ArgumentError, 'wait_timeout must be a number of seconds' unless value.to_s =~ %r{\A\d+\z} }
          munge { |value| Integer(value) }
        end
      end

      def self.string(type, name, doc)
        type.newproperty(name) do
          desc doc
          validate { |value| raise ArgumentError, "#{name} must be a string" unless value.is_a?(String) }
        end
      end

      # A name list whose order does not matter (host groups, contacts, ...).
      def self.set(type, name, doc)
        type.newproperty(name, array_matching: :all) do
          desc "#{doc} (order does not matter)."
          def insync?(is)
            is.is_a?(Array) && is.map(&:to_s).sort == should.map(&:to_s).sort
          end
        end
      end

      # A list whose order matters (templates, check command arguments).
      def self.list(type, name, doc)
        type.newproperty(name, array_matching: :all) do
          desc "#{doc} (in order)."
          def insync?(is)
            is.is_a?(Array) && is.map(&:to_s) == should.map(&:to_s)
          end
        end
      end

      def self.int(type, name, doc)
        type.newproperty(name) do
          desc doc
          validate { |value| raise ArgumentError, "#{name} must be a whole number" unless value.to_s =~ %r{\A\d+\z} }
          munge { |value| Integer(value) }
        end
      end

      def self.bool(type, name, doc)
        type.newproperty(name) do
          desc doc
          newvalues(:true, :false)
        end
      end

      def self.custom_variables(type)
        type.newproperty(:custom_variables) do
          desc 'Custom variables, e.g. { "_RACK" => "B12" }: names start with _ and are upper-cased, as Naemon does.'
          validate { |value| raise ArgumentError, 'custom_variables must be a hash' unless value.is_a?(Hash) }
          munge { |value| value.to_h { |k, v| [k.to_s.upcase, v.to_s] } }
          def insync?(is)
            is.is_a?(Hash) && is == should
          end
        end
      end

      # Options that hosts and services share, besides their own.
      def self.check_settings(type)
        string(type, :check_command, "Name of the check command ('' to inherit from the templates).")
        list(type, :check_command_args, 'Values of $ARG1$, $ARG2$, ... (no !, ; or $)')
        int(type, :check_interval, 'Minutes between regular checks.')
        int(type, :retry_interval, 'Minutes between re-checks of a problem.')
        int(type, :max_check_attempts, 'Checks before a problem becomes a hard state.')
        string(type, :notification_options, 'Comma-separated letters (d,u,r for hosts; w,c,r for services).')
        bool(type, :notifications_enabled, 'Whether Naemon notifies about it.')
        set(type, :contacts, 'Contacts notified')
        set(type, :contact_groups, 'Contact groups notified')
        custom_variables(type)
        string(type, :notes, 'Free text shown with it.')
      end
    end
  end
end
