# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_contact) do
  @doc = <<~DOC
    Someone Naemon notifies, in the monitoring portal (staff tokens). Naemon refuses a contact
    without notification commands: name at least one of each when you create it. The contact's
    alias is `contact_alias` (`alias` is a Puppet metaparameter). Autorequires the
    `monitoring_command`s it names.

        monitoring_contact { 'oncall-db':
          email                         => 'db-oncall@example.org',
          team                          => 'databases',
          host_notification_commands    => ['notify-host-by-email'],
          service_notification_commands => ['notify-service-by-email'],
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc "The contact's name in Naemon."
    validate { |value| raise ArgumentError, 'the name must not be empty' if value.to_s.empty? }
  end

  helpers = PuppetX::MonitoringPortal::TypeHelpers
  helpers.connection_parameters(self)
  helpers.string(self, :contact_alias, 'A longer display name.')
  helpers.string(self, :user, "The portal user it is ('' for none): their notification rules apply.")
  helpers.string(self, :team, "The team it belongs to ('' for none).")
  helpers.string(self, :email, 'E-mail address ($CONTACTEMAIL$).')
  helpers.string(self, :pager, 'Pager number or address ($CONTACTPAGER$).')
  helpers.string(self, :host_notification_period, "Time period for host notifications ('' for the default).")
  helpers.string(self, :service_notification_period, "Time period for service notifications ('' for the default).")
  helpers.string(self, :host_notification_options, 'Comma-separated letters of d,u,r,f,s (n: none).')
  helpers.string(self, :service_notification_options, 'Comma-separated letters of w,u,c,r,f,s (n: none).')
  helpers.set(self, :host_notification_commands, 'Commands that send host notifications')
  helpers.set(self, :service_notification_commands, 'Commands that send service notifications')

  autorequire(:monitoring_command) do
    Array(self[:host_notification_commands]) + Array(self[:service_notification_commands])
  end
end
