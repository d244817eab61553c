# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_escalation) do
  @doc = <<~DOC
    A host or service escalation (Naemon's `hostescalation` / `serviceescalation`): from the
    `first_notification`-th notification on (to `last_notification`, 0: no end), these contacts
    are notified as well.

    The portal addresses escalations by id; a resource is identified by its `host` (and
    `service`) and its `first_notification`, found with the API's filters. The title is a label
    of your choice. Only the properties you set are managed; name `contacts` or `contact_groups`
    (Naemon refuses an escalation without either).

        monitoring_escalation { 'db-01/PostgreSQL from 3':
          host               => 'db-01',
          service            => 'PostgreSQL',
          first_notification => 3,
          contact_groups     => ['dba-leads'],
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc 'A label; the escalation is identified by host, service and first_notification.'
  end

  newparam(:host) { desc 'The escalated host (of the escalated service, if any).' }
  newparam(:service) { desc "The escalated service's description; left out, a host escalation." }
  newparam(:first_notification) do
    desc 'The notification number (1: the first) from which it applies.'
    validate { |value| raise ArgumentError, 'first_notification must be a whole number' unless value.to_s =~ %r{\A\d+\z} }
    munge { |value| Integer(value) }
  end

  helpers = PuppetX::MonitoringPortal::TypeHelpers
  helpers.connection_parameters(self)
  helpers.int(self, :last_notification, 'The last notification number it applies to (0: no last).')
  helpers.int(self, :notification_interval, 'Minutes between escalated notifications (0: only once).')
  helpers.string(self, :escalation_period, "Time period in which it applies ('' for always).")
  helpers.string(
    self, :escalation_options, "States in which it applies: letters of d,u,r (hosts), w,u,c,r (services); '' for all."
  )
  helpers.set(self, :contacts, 'Contacts notified as well')
  helpers.set(self, :contact_groups, 'Contact groups notified as well')

  validate do
    raise ArgumentError, "monitoring_escalation #{self[:name]}: set host" if self[:host].to_s.empty?
    raise ArgumentError, "monitoring_escalation #{self[:name]}: set first_notification" if self[:first_notification].nil?
  end

  autorequire(:monitoring_host) { [self[:host]] }
  autorequire(:monitoring_service) { self[:service].to_s.empty? ? [] : ["#{self[:host]}/#{self[:service]}"] }
  autorequire(:monitoring_contact) { Array(self[:contacts]) }
  autorequire(:monitoring_contactgroup) { Array(self[:contact_groups]) }
end
